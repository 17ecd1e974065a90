"""The Magpie math stages on real rows: cleaning, pairing, judge scoring."""

from __future__ import annotations

import math

import pytest

from magpie_hf.pipelines.magpie_math.clean import CleanConfig, clean_problems, strip_debris
from magpie_hf.pipelines.magpie_math.preference import PreferenceConfig, build_preference, pick_pair
from magpie_hf.pipelines.magpie_math.rewards import yes_probability
from magpie_hf.stages.prompting import split_thinking


@pytest.mark.parametrize(
    "raw, clean",
    [
        ("User: Find all x with x^2 = 4.", "Find all x with x^2 = 4."),
        ("**Problem 3:** Prove that 7 is prime.", "Prove that 7 is prime."),
        ("Question: Question: What is 2+2?<|im_end|>", "What is 2+2?"),
        ("<|im_start|>user\nSolve x+1=2.", "Solve x+1=2."),
        (
            "Let $f$ be continuous on [0,1].\nShow that f is bounded.",
            "Let $f$ be continuous on [0,1].\nShow that f is bounded.",
        ),
    ],
)
def test_strip_debris(raw, clean):
    assert strip_debris(raw) == clean


def test_clean_drops_by_reason_and_keeps_multiline_problems(embedded):
    from magpie_hf.run.context import RunContext

    rows = [
        ("Let $G$ be a finite group of order 15.\nProve that $G$ is cyclic.", "stop"),
        ("Find the degree of the splitting field of x^3 - 2 over Q.", "stop"),
        ("find the degree of the splitting field of  x^3 - 2 over Q.", "stop"),
        ("Determine the degree of the splitting field of x^3 - 2 over the rationals Q.", "stop"),
        ("", "stop"),
        ("Compute the determinant of the 3x3 matrix whose entries are", "length"),
        ("I love sunny afternoons in the park with friends.", "stop"),
        ("ℵ∂∑∫√ ∞≈≠ ⊂⊃∩∪ ∀∃∈∉ ∠∟∡ ⊕⊗⊥", "stop"),
    ]
    batch = {"problem": [r[0] for r in rows], "problem_finish_reason": [r[1] for r in rows]}
    out = clean_problems(batch, CleanConfig(), embedded)
    assert out["filter_reason"] == [None, None, None, None, "empty", "truncated", "not_a_question", "garbled"]
    assert out["problem"][0].count("\n") == 1
    # then the embed and dedup stages: an exact copy and a rewording of problem 1 leave, with their reasons
    from magpie_hf.stages.dedup import DedupConfig, dedup
    from magpie_hf.stages.embed import EmbedConfig, embed

    kept = {"id": ["a", "b", "c", "d"], "problem": out["problem"][:4]}
    with RunContext() as run:
        kept.update(embed(kept, EmbedConfig(), run.bind(embedded)))
    found = dedup(kept, DedupConfig(near_duplicate_distance=0.1), embedded)
    assert found["filter_reason"] == [None, None, "exact_duplicate", "near_duplicate"]
    assert found["duplicate_of"] == [None, None, "b", "b"] and found["repeat_count"] == [1, 3, 3, 3]
    assert 0 <= found["min_neighbor_distance"][1] < 0.1 and found["min_neighbor_distance"][2] == 0.0
    assert found["min_neighbor_distance"][0] > 0.1
    nothing = dedup({"id": [], "problem": [], "embedding": []}, DedupConfig(), embedded)  # every row dropped before
    assert nothing == {"min_neighbor_distance": [], "repeat_count": [], "duplicate_of": [], "filter_reason": []}


def test_reward_pairs_never_choose_equal_text_or_tied_scores(embedded):
    batch = {
        "problem": ["p1", "p2", "p3", "p4"],
        "candidates": [["a", "b", "c"], ["a", "b"], ["same", "same "], ["only"]],
        "candidate_scores": [[0.2, 0.9, 0.5], [0.4, 0.4], [0.1, 0.8], [0.3]],
    }
    out = build_preference(batch, PreferenceConfig(), embedded)
    assert build_preference.stage.drops_rows(PreferenceConfig())
    assert out["filter_reason"] == [None, "tied_scores", "identical_candidates", "too_few_candidates"]
    assert out["chosen"][0] == [{"role": "assistant", "content": "b"}]
    assert out["rejected"][0] == [{"role": "assistant", "content": "a"}]
    assert (out["score_chosen"][0], out["score_rejected"][0]) == (0.9, 0.2)
    assert out["prompt"][0] == [{"role": "user", "content": "p1"}]
    assert out["pair_rule"][0] == "reward_max_min"
    assert pick_pair(["x", "y"], [0.5, 0.6], None, PreferenceConfig(min_margin=0.2))[3] == "tied_scores"


@pytest.mark.parametrize("rejected, expected", [("hard_negative", "w2"), ("lowest", "w1")])
def test_correct_candidate_beats_incorrect_even_with_lower_reward(rejected, expected):
    candidates = ["r1", "w1", "r2", "w2", "unknown"]
    scores = [0.3, 0.1, 0.4, 0.9, 0.99]
    correct = [True, False, True, False, None]
    best, worst, rule, reason = pick_pair(candidates, scores, correct, PreferenceConfig(rejected=rejected))
    assert (candidates[best], candidates[worst], rule, reason) == ("r2", expected, f"correct_vs_{rejected}", None)
    # all correct: falls back to reward max/min
    assert pick_pair(["a", "b"], [0.1, 0.2], [True, True], PreferenceConfig())[2] == "reward_max_min"


def test_grade_uses_reference_then_majority(embedded):
    from magpie_hf.stages.grade import GradeConfig, grade

    batch = {
        "id": ["a", "b", "c"],
        "candidates": [
            ["so \\boxed{1/2}", "The answer is 0.5", "\\boxed{3}"],
            ["\\boxed{4}", "\\boxed{5}", "no idea"],
            ["\\boxed{7}", "\\boxed{7.0}", "\\boxed{8}"],
        ],
        "answer": [None, "5", None],
        "problem": ["Half of one?", "What is 2 + 3?", "What is 14 / 2?"],
    }
    out = grade(batch, GradeConfig(columns=["candidates"]), embedded)
    assert out["reference_source"] == ["majority", "reference", "majority"]
    assert out["candidates_correct"] == [[True, True, False], [False, True, None], [True, True, False]]
    assert out["majority_votes"][0] == 2
    assert out["candidates_answers"][1] == ["4", "5", None]
    majority = GradeConfig(columns=["candidates"], reference="majority")
    no_majority = grade({"id": ["x"], "problem": ["?"], "candidates": [["\\boxed{1}", "\\boxed{2}"]]}, majority, embedded)
    assert no_majority["reference_source"] == [None] and no_majority["candidates_correct"] == [[None, None]]
    reference_only = grade(batch, GradeConfig(columns=["candidates"], reference="answer"), embedded)
    assert reference_only["reference_source"] == [None, "reference", None]
    assert reference_only["candidates_correct"][0] == [None, None, None]


def test_yes_probability_normalises_token_variants():
    assert yes_probability({" Yes": math.log(0.3), "yes": math.log(0.1), "No": math.log(0.4)}) == pytest.approx(0.5)
    assert yes_probability({"Maybe": -0.1}) == 0.5


def test_split_thinking_keeps_text_after_think():
    assert split_thinking("<think>\nhmm\n</think>\n\nThe answer is 4.") == "The answer is 4."
    assert split_thinking("No thinking here.") == "No thinking here."


@pytest.mark.parametrize(
    "prompt, reasoning, expected",
    [
        ("<｜User｜>Q<｜Assistant｜><think>\n", True, "<｜User｜>Q<｜Assistant｜><think>\n\n</think>\n\n"),
        ("<｜User｜>Q<｜Assistant｜>", True, "<｜User｜>Q<｜Assistant｜><think>\n\n</think>\n\n"),
        ("<|im_start|>assistant\n", False, "<|im_start|>assistant\n"),
    ],
)
def test_the_judge_closes_any_thinking_block_before_the_verdict(prompt, reasoning, expected):
    from magpie_hf.pipelines.magpie_math.rewards import verdict_prompt

    assert verdict_prompt(prompt, reasoning) == expected


def test_judge_scores_rank_by_the_verdict_token(scripted):
    from magpie_hf.pipelines.magpie_math.rewards import RewardsConfig, score_candidates

    model, engine = scripted
    engine.logprobs["\\boxed{4}"] = {"Yes": math.log(0.9), "No": math.log(0.1)}
    engine.logprobs["\\boxed{5}"] = {"Yes": math.log(0.2), "No": math.log(0.8)}
    batch = {"id": ["a"], "problem": ["What is 2+2?"], "candidates": [["\\boxed{4}", "\\boxed{5}"]]}
    out = score_candidates(batch, RewardsConfig(scorer="judge"), model)
    assert out["candidate_scores"][0] == pytest.approx([0.9, 0.2]) and out["scorer"] == ["judge:embedded"]


@pytest.mark.parametrize("name", ["magpie_math/algebra", "magpie_math/reference_answers"])
def test_production_candidates_keep_their_reasoning_and_the_reward_model_reads_them_whole(name):
    from magpie_hf.core.recipe import load_recipe
    from magpie_hf.core.resources import find_recipe

    stages = {e.name: e.config for e in load_recipe(find_recipe(name), model="1").stage_entries()}
    assert not stages["candidates"].strip_thinking and not stages["response"].strip_thinking
    problem_tokens = stages["instructions"].max_tokens if "instructions" in stages else 1024
    assert stages["rewards"].max_length >= problem_tokens + stages["candidates"].max_tokens


def test_pairs_keep_the_thinking_and_answers_are_read_after_it(embedded):
    from magpie_hf.stages.grade import GradeConfig, grade

    think = "<think>\nIs it \\boxed{5}? No: 2 + 2 = 4.\n</think>\n\n"
    candidates = [think + "So \\boxed{4}.", think + "The answer is \\boxed{4}", "<think>\nhm\n</think>\n\n\\boxed{5}"]
    batch = {"id": ["a"], "problem": ["What is 2+2?"], "candidates": [candidates]}
    graded = grade(batch, GradeConfig(columns=["candidates"], reference="majority"), embedded)
    assert graded["candidates_answers"] == [["4", "4", "5"]]
    batch = {**batch, **graded, "candidate_scores": [[0.2, 0.1, 0.9]]}
    pair = build_preference(batch, PreferenceConfig(correct_column="candidates_correct"), embedded)
    assert pair["chosen"][0][0]["content"] == candidates[0] and pair["rejected"][0][0]["content"] == candidates[2]


def test_the_card_says_what_the_reasoning_and_the_reward_model_kept(tmp_path):
    from datasets import Dataset

    from magpie_hf.core.pipeline import get_pipeline
    from magpie_hf.publish.export import export_tables

    chat = [{"role": "user", "content": "What is 2+2?"}, {"role": "assistant", "content": "<think>\nx\n</think>\n\n4"}]
    sft = Dataset.from_list([{"id": f"a-{i}", "domain": "algebra", "messages": chat, "response_tokens": 9} for i in range(4)])
    stages = [
        {"stage": "candidates", "config": {"n": 4, "strip_thinking": False}, "counters": {}},
        {"stage": "rewards", "config": {"scorer": "reward_model", "max_length": 8192}, "counters": {"reward_truncated": 3}},
    ]
    model = {"model_id": "deepseek-ai/DeepSeek-R1-Distill-Qwen-32B", "name": "r1-distill-qwen-32b", "engine": "vllm"}
    stages = [{"rows_in": 4, "rows_out": 4, "dropped": {}, "generated_tokens": 0, "seconds": 0.0, **s} for s in stages]
    info = {"recipe": "magpie_math_algebra", "domain": "algebra", "model": model, "stages": stages}
    export_tables({"sft": sft}, info, tmp_path, get_pipeline("magpie_math"), 0.25, 1)
    card = (tmp_path / "README.md").read_text()
    assert "`<think> ... </think>`" in card and "read after `</think>`" in card
    assert "**`candidates`:** whole responses, thinking included." in card
    assert "up to 8192 tokens per (problem, candidate); 3 candidate(s) were longer" in card
