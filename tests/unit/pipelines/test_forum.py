"""Forum-problem curation: parsing replies, decontamination with real embeddings, judging, SFT rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

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
    }
    out = merge_problems(batch, MergeProblemsConfig(), embedded)
    assert out["filter_reason"] == [None, "type_multiple_choice", "type_binary", None, "unconverted_proof"]
    assert out["problem"][0] == "Find the least n with P(n)." and out["original_problem"][0] == "Prove P."


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
            "prepare", "extract_problems", "classify_problems", "extract_answers", "convert_proofs", "merge_data", "decontaminate"
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
