"""Forum-problem curation: parsing replies, decontamination with real embeddings, judging, SFT rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from magpie_hf.cli.main import main
from magpie_hf.core.recipe import load_recipe
from magpie_hf.pipelines.forum.correct_solutions import CorrectSolutionsConfig, correct_solutions
from magpie_hf.pipelines.forum.decontaminate import Benchmark, DecontaminateConfig, decontaminate
from magpie_hf.pipelines.forum.merge_problems import MergeProblemsConfig, merge_problems

SHARED = Path("../shared/data")
BENCHMARKS = [
    Benchmark(path=str(SHARED / "benchmarks/math500.jsonl"), column="problem"),
    Benchmark(path=str(SHARED / "benchmarks/aime24.jsonl"), column="problem"),
    Benchmark(path=str(SHARED / "benchmarks/amc23.jsonl"), column="question"),
]
# A forum post planted as a paraphrase of MATH-500's f(-2)+f(-1)+f(0) problem.
PLANTED = "Let f(x) = (3x-2)/(x-2). Compute f(-2) + f(-1) + f(0) and give the result as a common fraction."
PROOF = "Prove that n^3 - n is divisible by 6 for every positive integer n."
CONVERTED = "Find the largest integer that divides n^3 - n for every positive integer n."
DIVISORS = "Find the number of positive divisors of 360."


def forum_model(prompt: str) -> str:
    """problems.yaml's scripted model: one problem per post, proofs classified and converted, answers boxed."""
    if "Below is the first post" in prompt:
        return f"Problem 1: {PROOF if 'Prove' in prompt else DIVISORS}"
    if "ask for a proof" in prompt:
        return "Yes" if "Prove" in prompt else "No"
    if "What final answer does the discussion reach" in prompt:
        return "\\boxed{24}" if "360" in prompt else "\\boxed{6}"
    return CONVERTED if "Rewrite the following proof problem" in prompt else "No"


def rows_of(problems: list[str]) -> dict[str, list]:
    return {"id": [f"p{i}" for i in range(len(problems))], "problem": problems}


def test_decontamination_flags_planted_and_reworded_benchmark_problems(scripted):
    model, _ = scripted
    example = [json.loads(line) for line in (SHARED / "contamination/nemo-skills-contamination-example.jsonl").open()]
    problems = [PLANTED, "Find the number of positive divisors of 360."] + [r["problem"] for r in example]
    no_llm = DecontaminateConfig(benchmarks=BENCHMARKS, min_similarity=2.0)  # thresholds only: no LLM question
    out = decontaminate(rows_of(problems), no_llm, model)
    assert out["contaminated"][0] and out["closest_benchmark"][0] == "math500"
    assert "f(-2) +f(-1)+f(0)" in out["closest_benchmark_problem"][0]
    assert out["contaminated"][1] is False and out["contamination_decided_by"][1] == "none"
    # NeMo-Skills' labelled example: rows 0-3 reword amc23/aime24/math500 problems, rows 4-9 are AIME 2025.
    flagged = out["contaminated"][2:]
    assert flagged[4:] == [False] * 6
    assert sum(flagged[:4]) >= 3
    assert all(0 <= s <= 1.0001 for s in out["closest_similarity"])


def test_decontamination_asks_the_llm_about_close_candidates(scripted):
    model, engine = scripted
    engine.rules["f(-2) +f(-1)+f(0)"] = "Yes"
    engine.default = "No"
    cfg = DecontaminateConfig(benchmarks=BENCHMARKS, min_similarity=0.3, flag_similarity=2.0, flag_ngram=2.0, top_k=2)
    out = decontaminate(rows_of([PLANTED, "Find the number of positive divisors of 360."]), cfg, model)
    assert out["contaminated"] == [True, False]
    assert out["contamination_decided_by"] == ["llm", "none"]
    assert "f(-2) +f(-1)+f(0)" in out["closest_benchmark_problem"][0]
    assert engine.prompts and all("Problem A:" in p for p in engine.prompts)


def test_merge_drops_unanswerable_classes_and_swaps_in_converted_proofs(embedded):
    batch = {
        "id": ["a", "b", "c", "d", "e"],
        "problem": ["Prove P.", "Pick (A) or (B).", "Is 7 prime?", "Find x.", "Prove Q."],
        "problem_type": ["proof", "multiple_choice", "binary", "regular", "proof"],
        "converted_problem": ["Find the least n with P(n).", None, None, None, None],
        "expected_answer": ["6", "B", "yes", "3", None],
    }
    out = merge_problems(batch, MergeProblemsConfig(), embedded)
    assert out["filter_reason"] == [None, "type_multiple_choice", "type_binary", None, "unconverted_proof"]
    assert out["problem"][0] == "Find the least n with P(n)." and out["original_problem"][0] == "Prove P."
    # the answer found for the proof is not the converted problem's: its reference will be the majority answer
    assert out["expected_answer"][0] is None and out["expected_answer"][3] == "3"


def test_sft_rows_keep_correct_solutions_of_clean_problems(embedded):
    batch = {
        "id": ["q1", "q2", "q3"],
        "domain": ["forum"] * 3,
        "problem": ["P1", "P2", "P3"],
        "contaminated": [False, True, False],
        "solver": [["s1", "s2"], ["t1", "t2"], ["u1", "u2"]],
        "solver_correct": [[True, False], [True, True], [False, None]],
        "solver_judged_by": [["math_verify", "math_verify"], ["llm", "llm"], ["math_verify", "none"]],
    }
    out = correct_solutions(batch, CorrectSolutionsConfig(), embedded)
    kept = [i for i, r in enumerate(out["filter_reason"]) if r is None]
    assert [out["id"][i] for i in kept] == ["q1-s0"]
    assert out["messages"][kept[0]] == [{"role": "user", "content": "P1"}, {"role": "assistant", "content": "s1"}]
    assert sorted(r for r in out["filter_reason"] if r) == ["contaminated", "no_correct_solution"]


@pytest.mark.parametrize("name", ["problems", "solutions"])
def test_forum_recipes_keep_prompts_in_yaml(name, tmp_path):
    text = Path(f"recipes/openmathreasoning/{name}.yaml").read_text()
    assert "modes:" in text and "demo:" in text
    if name == "problems":
        assert text.count("prompt:") >= 5
        # the original's stage names, so its documented --stages lines work
        from magpie_hf.core.recipe import load_recipe

        names = [e.name for e in load_recipe(f"recipes/openmathreasoning/{name}.yaml").stage_entries()]
        assert names == [
            "prepare",
            "extract_problems",
            "classify_problems",
            "extract_answers",
            "convert_proofs",
            "merge_data",
            "decontaminate",
        ]


def test_prepare_joins_posts_strips_nested_quotes_and_cuts_the_middle(embedded):
    from magpie_hf.pipelines.forum.prepare import CUT, PrepareConfig, prepare_threads

    long = " ".join(f"step{k}" for k in range(400))
    batch = {
        "forum_post": ["Find x. [quote=bob]old [quote]older[/quote] text[/quote] Thanks", "Q2", "Q3"],
        "forum_discussions": [["First post.", "[quote]First post.[/quote] I agree."], "Post 1:\nshort", long],
    }
    out = prepare_threads(batch, PrepareConfig(max_tokens=100), embedded)
    assert out["forum_post"][0] == "Find x.  Thanks"
    assert out["forum_discussions"][0] == "Post 1:\nFirst post.\n\nPost 2:\n I agree."
    assert out["forum_discussions"][1] == "Post 1:\nshort"
    cut = out["forum_discussions"][2]
    assert cut.startswith("step0 step1") and cut.endswith("step399") and CUT in cut and "step200 " not in cut
    assert (out["joined"], out["quotes_stripped"], out["truncated"]) == ([1, 0, 0], [1, 0, 0], [0, 0, 1])
    assert out["discussion_tokens"][2] == 100


def test_prepare_on_the_shared_forum_threads(embedded):
    from datasets import load_dataset

    from magpie_hf.pipelines.forum.prepare import PrepareConfig, prepare_threads

    threads = load_dataset("json", data_files=str(SHARED / "forum/example-threads.jsonl"), split="train")
    full = prepare_threads(threads[:], PrepareConfig(), embedded)
    assert (sum(full["joined"]), sum(full["quotes_stripped"]), sum(full["truncated"])) == (0, 1, 0)
    assert not any("[quote" in d for d in full["forum_discussions"])
    small = prepare_threads(threads[:], PrepareConfig(max_tokens=256), embedded)
    assert sum(small["truncated"]) == sum(n > 256 for n in full["discussion_tokens"]) > 0


def test_converted_proofs_carry_no_extracted_answer(scripted, tmp_path):
    from magpie_hf.run.job import run_recipe

    _, engine = scripted
    engine.default = forum_model
    threads = tmp_path / "threads.jsonl"
    discussions = ["It is (n-1)n(n+1), so 6 divides it.", "360 = 2^3 3^2 5, so the answer is 24."]
    posts = zip([PROOF, DIVISORS], discussions)
    threads.write_text("".join(json.dumps({"forum_post": p, "forum_discussions": d}) + "\n" for p, d in posts))
    path = "recipes/openmathreasoning/problems.yaml"
    recipe = load_recipe(
        path, [f"source.path={threads}"], "demo", engine="fake", run_dir=str(tmp_path / "runs"), output=str(tmp_path / "out")
    )
    names = [e.name for e in recipe.stage_entries()]
    run = run_recipe(recipe, only=names[: names.index("merge_data") + 1], push=False)
    merged = {row["original_problem"]: row for row in run.result.datasets["merge_data"]}
    assert merged[PROOF]["problem"] == CONVERTED and merged[PROOF]["expected_answer"] is None
    assert merged[DIVISORS]["problem"] == DIVISORS and merged[DIVISORS]["expected_answer"] == "24"
    asked = [p for p in engine.prompts if "What final answer does the discussion reach" in p]
    assert len(asked) == 1 and DIVISORS in asked[0]  # as the original: answers only for unclaimed problems


def test_extract_problems_alone_runs_on_a_fresh_run_dir(scripted, tmp_path):
    _, engine = scripted
    engine.default = forum_model
    args = ["run", "openmathreasoning/problems", "--mode", "demo", "--stages", "extract_problems", "--engine", "fake"]
    assert main([*args, "--run-dir", str(tmp_path / "runs"), "--output", str(tmp_path / "out")]) == 0
    ran = sorted(p.name.rsplit("-", 1)[0] for p in (tmp_path / "runs").iterdir() if p.name != "logs")
    assert ran == ["extract_problems", "prepare"]  # the preparatory step ran with it; nothing after it did


def test_fill_majority_answer_is_a_stage_that_judge_answers_reads(scripted, tmp_path, forum_problems):
    from datasets import concatenate_datasets, load_dataset

    _, engine = scripted
    engine.rules["largest integer"] = ["\\boxed{6}", "\\boxed{6}", "\\boxed{3}", "\\boxed{6}"]
    engine.rules["divisors of 360"] = ["\\boxed{24}", "\\boxed{12}"]
    problems = forum_problems([CONVERTED, DIVISORS], [None, "24"])  # a converted proof has no answer
    args = ["run", "openmathreasoning/solutions", "--mode", "demo", "--engine", "fake"]
    args += ["--set", f"source.path={problems}", "--run-dir", str(tmp_path / "runs"), "--output", str(tmp_path / "out")]
    assert main([*args, "--stages", "generate_solutions"]) == 0
    assert main([*args, "--stages", "fill_majority_answer"]) == 0
    assert main(args) == 0
    sft = load_dataset(str(tmp_path / "out"), "sft")
    kept = sorted(concatenate_datasets(list(sft.values()))["id"])
    # the converted proof is judged against its solutions' majority (6), the other against its extracted 24
    assert kept == ["t0-p0-s0", "t0-p0-s1", "t0-p0-s3", "t1-p0-s0", "t1-p0-s2"]


TIR_DONE = "Sum first.\n<tool_call>\nprint(2 + 3)\n</tool_call>\n```output\n5\n```\nSo \\boxed{5}."


@pytest.mark.parametrize(
    ("text", "executions", "reason"),
    [
        (TIR_DONE, 1, None),
        ("Just \\boxed{5}.", 0, "no_code"),
        ("Sum first.\n<tool_call>\nprint(2 + 3)\n</tool_call>", 1, "incomplete_code"),  # executions ran out
        ("Surely \\boxed{5}.\n" + TIR_DONE, 1, "boxed_before_code"),
        (TIR_DONE.replace("print(2 + 3)", "import matplotlib.pyplot as plt\nprint(2 + 3)"), 1, "matplotlib"),
    ],
)
def test_postprocess_tir_marks_solutions_unfit_for_sft(text, executions, reason):
    from magpie_hf.pipelines.forum.postprocess_tir import PostprocessTirConfig, filter_reason

    assert filter_reason(text, executions, PostprocessTirConfig()) == reason


def test_postprocess_tir_normalises_code_tags_of_kept_solutions_and_counts_reasons(scripted):
    from magpie_hf.pipelines.forum.postprocess_tir import PostprocessTirConfig, postprocess_tir

    model, _ = scripted
    cfg = PostprocessTirConfig(new_code_begin="```python\n", new_code_end="```\n")
    batch = {"id": ["q1"], "solver": [[TIR_DONE, "Just \\boxed{5}."]], "solver_code_executions": [[1, 0]]}
    out = postprocess_tir(batch, cfg, model)
    normalised = "Sum first.\n```python\nprint(2 + 3)\n```\n```output\n5\n```\nSo \\boxed{5}."
    assert out["solver"] == [[normalised, "Just \\boxed{5}."]]
    assert out["solver_tir_filter"] == [[None, "no_code"]]
    assert model.usage.counters == {"tir_kept": 1, "tir_no_code": 1}


def test_tir_sft_rows_skip_marked_solutions_and_carry_their_code_execution_counts(embedded):
    batch = {
        "id": ["q1"],
        "domain": ["forum"],
        "problem": ["P1"],
        "contaminated": [False],
        "solver": [["a", "b", "c"]],
        "solver_correct": [[True, True, False]],
        "solver_judged_by": [["math_verify"] * 3],
        "solver_code_executions": [[2, 0, 1]],
        "solver_tir_filter": [[None, "no_code", None]],
    }
    cfg = CorrectSolutionsConfig(prompt="Up to {total_code_executions} calls.\n{problem}", code_executions=True)
    out = correct_solutions(batch, cfg, embedded)
    assert out["id"] == ["q1-s0"] and out["code_executions"] == [2]
    assert out["messages"][0][0] == {"role": "user", "content": "Up to 2 calls.\nP1"}


def test_tir_demo_recipe_runs_code_judges_and_exports_sft_rows_with_counts(scripted, tmp_path, forum_problems):
    from datasets import concatenate_datasets, load_dataset

    _, engine = scripted
    engine.rules["```output\n24\n"] = "So there are \\boxed{24} divisors."
    engine.rules["divisors of 360"] = "```python\nfrom sympy import divisor_count\nprint(divisor_count(360))\n"
    engine.default = "Guessing \\boxed{7}."  # the other problem: no code, wrong
    problems = forum_problems([DIVISORS, "What is 3 + 4?"], ["24", "7"])
    args = ["run", "openmathreasoning/tir", "--mode", "demo", "--engine", "fake", "--set", f"source.path={problems}"]
    assert main([*args, "--run-dir", str(tmp_path / "runs"), "--output", str(tmp_path / "out")]) == 0
    sft = concatenate_datasets(list(load_dataset(str(tmp_path / "out"), "sft").values()))
    assert sorted(sft["id"]) == [f"t0-p0-s{k}" for k in range(4)]  # t1-p0 is right without code: not TIR data
    assert set(sft["code_executions"]) == {1}
    user, assistant = sft[0]["messages"]
    assert "You may perform up to 1 Python code calls" in user["content"] and DIVISORS in user["content"]
    assert "```python\nfrom sympy import divisor_count" in assistant["content"]
    assert "```output\n24\n```" in assistant["content"]
