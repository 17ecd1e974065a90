"""Answer extraction, math-verify equivalence with timeouts, majority votes."""

from __future__ import annotations

import time

import pytest

from magpie_hf.math.grading import Verdict, extract_answer, grade_many, is_equivalent, majority_answer

# (gold, predicted, expected verdict): what a grader of math answers must get right.
PAIRS = [
    # fractions vs decimals
    ("1/2", "0.5", True),
    ("\\frac{1}{2}", "0.5", True),
    ("\\frac{3}{4}", "0.75", True),
    ("1/3", "0.33", False),
    ("2/3", "0.6667", False),
    ("0.5", "1/3", False),
    ("\\dfrac{1}{2}", "\\tfrac12", True),
    ("\\frac{\\sqrt{3}}{2}", "\\sqrt{3}/2", True),
    # intervals
    ("[1,2]", "[1, 2]", True),
    ("(0,1)", "(0, 1)", True),
    ("(0,1)", "[0,1]", False),
    ("[0,\\infty)", "[0, \\infty)", True),
    # sets
    ("\\{1,2,3\\}", "\\{3,2,1\\}", True),
    ("\\{1,2\\}", "\\{1,3\\}", False),
    # tuples
    ("(1,2)", "(2,1)", False),
    ("(1,2,3)", "(1, 2, 3)", True),
    # matrices
    ("\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", True),
    ("\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", "\\begin{pmatrix}1&0\\\\3&4\\end{pmatrix}", False),
    # percentages and units
    ("50\\%", "0.5", True),
    ("50\\%", "50", True),
    ("25\\%", "0.3", False),
    ("10 \\text{ cm}", "10", True),
    ("5\\text{ meters}", "5", True),
    ("90^\\circ", "90", True),
    # LaTeX vs plain text
    ("\\sqrt{2}", "2^{1/2}", True),
    ("\\sqrt{2}", "1.41421356", True),
    ("\\pi", "3.14159265", True),
    ("2\\pi", "6.28", False),
    ("x^2+2x+1", "(x+1)^2", True),
    ("(x+1)^2", "x^2+2x+1", True),
    ("x^2-1", "(x-1)(x+1)", True),
    ("x^2", "x^3", False),
    ("3", "3.0", True),
    ("3", "4", False),
    ("-2", "- 2", True),
    ("1000", "1,000", True),
    ("x=2", "2", True),
    ("y = 3x+1", "3x+1", True),
    ("\\text{yes}", "\\text{no}", False),
    ("\\frac{1}{4}", "0.25", True),
    ("\\{1,2\\}", "\\{2,1\\}", True),
    ("(-\\infty, 3)", "(-\\infty, 4)", False),
]


def test_at_least_forty_known_pairs_in_one_parallel_call():
    assert len(PAIRS) >= 40
    verdicts = grade_many([(g, p) for g, p, _ in PAIRS])
    wrong = [(g, p, v) for (g, p, want), v in zip(PAIRS, verdicts) if (v is Verdict.CORRECT) != want]
    assert wrong == []


@pytest.mark.parametrize("gold, predicted", [("", "3"), ("3", None), (None, None)])
def test_missing_answers_are_unparseable_not_wrong(gold, predicted):
    assert is_equivalent(gold, predicted) is None


def test_pathological_input_times_out_and_the_grader_recovers():
    start = time.monotonic()
    verdicts = grade_many([("(x+1)^{100000}", "x^{100000}+1"), ("1/2", "0.5")], timeout=2.0)
    assert verdicts == [Verdict.TIMEOUT, Verdict.CORRECT]
    assert time.monotonic() - start < 20
    assert is_equivalent("(x+1)^{100000}", "x^{100000}+1", timeout=1.0) is None
    assert is_equivalent("2", "2.0") is True


@pytest.mark.parametrize(
    "text, answer",
    [
        ("so the result is \\boxed{\\frac{1}{\\sqrt{2}}}.", "\\frac{1}{\\sqrt{2}}"),
        ("first \\boxed{1}, then corrected: \\boxed{x^{2}+\\{a\\}}", "x^{2}+\\{a\\}"),
        ("\\boxed{\\begin{pmatrix}1&2\\end{pmatrix}}", "\\begin{pmatrix}1&2\\end{pmatrix}"),
        ("Thus \\boxed 5 is it", "5"),
        ("We get 3 apples. The answer is $42$.", "42"),
        ("Final Answer: 7.", "7"),
        ("**Final answer:** $x = 2$", "x = 2"),
        ("<think>maybe \\boxed{1}</think>After checking, the answer is 2.", "2"),
        ("<think>\\boxed{1}</think>No conclusion.", None),
        ("<think>\nso far \\boxed{1}, but let me chec", None),  # cut inside its thinking: no answer yet
        ("I am not sure.", None),
        ("\\boxed{}", None),
        ("unbalanced \\boxed{1 + {2}", None),
    ],
)
def test_extract_answer(text, answer):
    assert extract_answer(text) == answer


def test_majority_groups_by_equivalence_not_string():
    assert majority_answer(["1/2", "0.5", "3", "\\frac{1}{2}", None, "3"]) == ("1/2", 3)
    assert majority_answer(["3", "4"]) == ("3", 1)
    assert majority_answer([None, ""]) == (None, 0)


def test_the_grading_api_answers_from_a_script_without_main_guard_and_from_stdin(tmp_path):
    import subprocess
    import sys

    code = 'from magpie_hf.grading import is_equivalent\nprint(is_equivalent("1/2", "0.5"))\n'
    script = tmp_path / "check.py"
    script.write_text(code)
    for args, stdin in (([str(script)], None), (["-"], code), (["-c", code], None)):
        proc = subprocess.run([sys.executable, *args], input=stdin, capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert proc.stdout.strip() == "True", (args, proc.stderr[-500:])


def test_one_worker_and_every_core_give_the_same_verdicts():
    pairs = [(gold, predicted) for gold, predicted, _ in PAIRS]
    assert grade_many(pairs, workers=1) == grade_many(pairs, workers=2)


def test_a_timeout_inside_a_pooled_batch_leaves_the_other_verdicts_right():
    batch = [("1/2", "0.5"), ("(x+1)^{100000}", "x^{100000}+1"), ("2", "3"), ("\\sqrt{2}", "2^{1/2}"), ("4", "4.0")]
    verdicts = grade_many(batch * 2, timeout=2.0, workers=2)
    expected = [Verdict.CORRECT, Verdict.TIMEOUT, Verdict.INCORRECT, Verdict.CORRECT, Verdict.CORRECT]
    assert verdicts == expected * 2
    assert grade_many(batch, timeout=2.0, workers=2)[0] is Verdict.CORRECT  # the pool still works
