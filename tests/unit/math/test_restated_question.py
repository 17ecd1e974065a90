"""An answer that repeats the question's own expression is not correct, however math-verify evaluates it."""

from __future__ import annotations

import pytest

from magpie_hf.math.grading import Verdict, grade_rows, restates_question

RESTATED = [
    ("Compute $\\sqrt[4]{12960000}$.", "\\sqrt[4]{12960000}", "60"),
    ("What is $2+2$?", "2+2", "4"),
    ("Compute $\\binom{5}{2}$.", "\\binom{5}{2}", "10"),
    ("Evaluate $\\dfrac{12}{5} + 1$.", "\\frac{12}{5}+1", "17/5"),
    ("Find the value of $\\log_2 64$.", "\\log_2 64", "6"),
]

ANSWERED = [
    ("Which is larger, $\\frac{3}{4}$ or $\\frac{2}{3}$?", "\\frac{3}{4}", "3/4"),  # the answer is one of the options
    ("Which is larger, $\\dfrac{3}{4}$ or $\\frac{2}{3}$?", "\\frac34", "\\frac{3}{4}"),
    ("Let $n = 10$. How many integers from 1 to $n$ are positive?", "10", "10"),  # a plain number may recur
    ("Simplify $\\sqrt{8}$.", "2\\sqrt{2}", "2\\sqrt{2}"),
    ("Compute $\\sqrt[4]{12960000}$.", "60", "60"),
    ("Find $x$ if $x + 3 = 5$.", "x", "2"),  # wrong, but not a restatement: math-verify's verdict stands
]


@pytest.mark.parametrize(("question", "answer", "reference"), RESTATED)
def test_an_answer_repeating_the_questions_expression_restates_it(question, answer, reference):
    assert restates_question(question, answer, reference)


@pytest.mark.parametrize(("question", "answer", "reference"), ANSWERED)
def test_real_answers_do_not_restate_the_question(question, answer, reference):
    assert not restates_question(question, answer, reference)


def test_grading_with_questions_marks_restated_answers_wrong():
    question = "Compute $\\sqrt[4]{12960000}$."
    answers = [["\\sqrt[4]{12960000}", "60", "50"]]
    without = grade_rows(["60"], answers)
    assert [v.correct for v in without[0]] == [True, True, False]  # math-verify alone evaluates the root
    verdicts = grade_rows(["60"], answers, questions=[question])
    assert verdicts[0] == [Verdict.RESTATED, Verdict.CORRECT, Verdict.INCORRECT]
    assert [v.correct for v in verdicts[0]] == [False, True, False]
