"""GenSelect on the forum pipeline: instances, summaries, the selection prompt, picks and the SFT rows."""

from __future__ import annotations

import json
import re

import pytest

from magpie_hf.cli.main import main
from magpie_hf.core.recipe import load_recipe
from magpie_hf.pipelines.forum.genselect import correct_picks, extract_judgment, genselect_pick, selection_prompt
from magpie_hf.pipelines.forum.genselect_instances import GenSelectInstancesConfig, genselect_instances
from magpie_hf.pipelines.forum.summarize_candidates import summarize_candidates, tail

RECIPE = "recipes/openmathreasoning/genselect.yaml"
DIVISORS = "Find the number of positive divisors of 360."


@pytest.fixture
def configs(tmp_path) -> dict:
    """genselect.yaml's stage configs (default mode), over a one-row judged file."""
    from datasets import Dataset

    judged = tmp_path / "judged.parquet"
    Dataset.from_dict(
        {
            "id": ["q"],
            "problem": ["P"],
            "expected_answer": ["1"],
            "contaminated": [False],
            "solver": [["s"]],
            "solver_answers": [["1"]],
            "solver_correct": [[True]],
        }
    ).to_parquet(judged)
    return {e.name: e.config for e in load_recipe(RECIPE, [f"source.path={judged}"]).stage_entries()}


def judged_rows(problems: dict[str, list[tuple[str, str | None, bool | None]]], contaminated=()) -> dict[str, list]:
    """A judged batch: per problem id, its solutions as (text, extracted answer, correct)."""
    return {
        "id": list(problems),
        "domain": ["forum"] * len(problems),
        "problem": [f"Problem {p}" for p in problems],
        "expected_answer": ["7"] * len(problems),
        "contaminated": [p in contaminated for p in problems],
        "solver": [[s for s, _, _ in sols] for sols in problems.values()],
        "solver_answers": [[a for _, a, _ in sols] for sols in problems.values()],
        "solver_correct": [[ok for _, _, ok in sols] for sols in problems.values()],
    }


def solution(k: int, answer: str) -> str:
    return f"<think>long exploration {k}</think>\n\nSummary {k}: \\boxed{{{answer}}}"


MIXED = [(solution(k, "7"), "7", True) for k in range(5)] + [(solution(k, "9"), "9", False) for k in range(5, 7)]
OTHERS = [("unparsed", None, False), ("undecided \\boxed{8}", "8", None)]  # never candidates


def test_instances_are_mixed_shuffled_summaries_with_the_caps_and_reasons():
    batch = judged_rows(
        {
            "mixed": MIXED + OTHERS,
            "all_right": [(solution(k, "7"), "7", True) for k in range(4)],
            "no_answer_wrong": [(solution(0, "7"), "7", True), *[("unparsed", None, False)] * 3],
            "few": [MIXED[0], MIXED[5]],
            "dirty": MIXED,
        },
        contaminated=("dirty",),
    )
    cfg = GenSelectInstancesConfig(max_solutions=5, max_instances_per_problem=6, seed=3)
    out = genselect_instances(batch, cfg, None)
    reasons = {p: r for p, r in zip(out["problem_id"], out["filter_reason"]) if r}
    assert reasons == {
        "all_right": "not_mixed",
        "no_answer_wrong": "not_mixed",
        "few": "too_few_solutions",
        "dirty": "contaminated",
    }
    kept = [i for i, r in enumerate(out["filter_reason"]) if r is None]
    assert [out["id"][i] for i in kept] == [f"mixed-g{k}" for k in range(6)]
    for i in kept:
        picked, correct = out["candidate_indices"][i], out["candidate_correct"][i]
        assert 2 <= out["num_candidates"][i] == len(picked) <= 5 and max(picked) < len(MIXED)  # OTHERS never
        assert True in correct and False in correct and correct == [MIXED[k][2] for k in picked]
        assert correct.count(True) <= 2  # the correct ones were cut to as many as the wrong ones (2)
        assert out["candidates"][i] == [f"Summary {k}: \\boxed{{{MIXED[k][1]}}}" for k in picked]
        assert out["candidate_answers"][i] == [MIXED[k][1] for k in picked]
    assert len({tuple(out["candidates"][i]) for i in kept}) == len(kept)  # no instance twice
    assert genselect_instances(batch, cfg, None) == out  # seeded per problem: the same again
    other = genselect_instances(batch, cfg.model_copy(update={"seed": 4}), None)
    assert [other["candidate_indices"][i] for i in kept] != [out["candidate_indices"][i] for i in kept]


def test_a_pair_gives_its_two_orders_once_each():
    cfg = GenSelectInstancesConfig(min_solutions=2, max_instances_per_problem=8)
    out = genselect_instances(judged_rows({"pair": [MIXED[0], MIXED[5]]}), cfg, None)
    assert sorted(out["candidate_indices"]) == [[0, 1], [1, 0]]


def test_the_selection_prompt_is_nemo_skills_genselect(configs):
    text = selection_prompt(configs["label_data"].prompt, {"problem": "P?", "candidates": ["A \\boxed{1}", "B"]})
    assert text.startswith("You will be given a challenging math problem followed by 2 solutions. Your task")
    assert "Solutions: Detailed solutions indexed 0-1, each concluding with an answer in \\boxed{} notation\n" in text
    assert (
        "YOUR TASK\n\nProblem: P?\n\nSolutions:\nSolution 0:\nA \\boxed{1}\n\nSolution 1:\nB\n\nEvaluation Process:"
        in text
    )
    assert "  - Proper use of mathematical notation, including \\boxed{}\n" in text
    assert text.endswith(
        "End your evaluation with exactly:\nJudgment: [IDX]\nwhere IDX is the index 0-1 of the best solution."
    )


@pytest.mark.parametrize(
    ("reply", "pick"),
    [
        ("Solution 1 is sound.\nJudgment: 1", 1),
        ("Judgement: 0 at first, but\nJudgment: 2", 2),  # the last one counts; both spellings
        ("Judgment: 3", None),  # past the last candidate
        ("Judgment: [IDX]", None),
        ("I cannot decide.", None),
    ],
)
def test_the_pick_is_the_last_judgment_within_range(reply, pick):
    assert extract_judgment(reply, max_idx=2) == pick


def test_only_correct_picks_become_sft_rows_and_every_pick_is_counted(scripted, configs):
    model, engine = scripted
    engine.rules.update(
        {"Problem: P0": "0 is right.\nJudgment: 0", "Problem: P1": "Judgment: 1", "Problem: P2": "Hmm."}
    )
    engine.default = "Judgment: 5"
    batch = {
        "id": [f"g{k}" for k in range(4)],
        "problem": [f"P{k}" for k in range(4)],
        "candidates": [["right \\boxed{7}", "wrong \\boxed{9}"]] * 4,
        "candidate_correct": [[True, False]] * 4,
    }
    out = genselect_pick(batch, configs["label_data"], model)
    assert out["pick"] == [0, 1, None, None] and out["pick_correct"] == [True, False, None, None]
    assert out["genselect_generation"][0] == "0 is right.\nJudgment: 0"
    assert dict(model.usage.counters) == {"picks_correct": 1, "picks_wrong": 1, "picks_unparseable": 2}
    sft = correct_picks({**batch, **out}, configs["prepare_for_sft"], model)
    assert sft["filter_reason"] == [None, "wrong_pick", "unparseable_pick", "unparseable_pick"]
    assert sft["messages"][0] == [
        {"role": "user", "content": out["genselect_prompt"][0]},
        {"role": "assistant", "content": "0 is right.\nJudgment: 0"},
    ]
    assert "Solution 0:\nright \\boxed{7}\n\nSolution 1:\nwrong \\boxed{9}" in out["genselect_prompt"][0]


def test_long_candidates_take_summaries_that_keep_their_answer(scripted, configs):
    model, engine = scripted
    keeps, changes = "step " * 30 + "\\boxed{7}", "try " * 30 + "\\boxed{9}"
    engine.rules.update({keeps: "<think>hm</think>Clean: \\boxed{7}", changes: "Clean: \\boxed{8}"})
    batch = {
        "id": ["g0", "g1"],
        "problem": ["P", "P"],
        "candidates": [[keeps, "short \\boxed{7}", changes], [changes, keeps]],
        "candidate_answers": [["7", "7", "9"], ["9", "7"]],
    }
    cfg = configs["generate_new_summaries"].model_copy(update={"min_chars": 100})
    out = summarize_candidates(batch, cfg, model)
    assert out["candidates"] == [["Clean: \\boxed{7}", "short \\boxed{7}", changes], [changes, "Clean: \\boxed{7}"]]
    assert out["candidate_summarized"] == [[True, False, False], [False, True]]
    assert len(engine.prompts) == 2 and "Solution:\n" + keeps in engine.prompts[0]  # each distinct prompt once
    assert dict(model.usage.counters) == {"summaries_used": 1, "summaries_rejected": 1}
    cut = summarize_candidates(batch, cfg.model_copy(update={"min_chars": 0, "max_chars": 20}), model)
    assert cut["candidates"][0][0] == keeps[-20:] and len(engine.prompts) == 2  # min_chars 0: nothing asked
    assert tail("intro\n\nhalf a step\n\nthen\n\n\\boxed{7}", 25) == "then\n\n\\boxed{7}"


def pick_first(prompt: str) -> str:
    return "Judgment: 0"


def test_solutions_judged_export_feeds_genselect_end_to_end(scripted, tmp_path, forum_problems):
    from datasets import concatenate_datasets, load_dataset

    _, engine = scripted
    engine.rules["challenging math problem"] = pick_first
    engine.rules[DIVISORS] = ["\\boxed{24}", "\\boxed{12}", "\\boxed{24}", "\\boxed{10}"]
    engine.default = "\\boxed{5}"
    problems = forum_problems([DIVISORS, "What is 2+3?"], ["24", "5"])
    common = ["--mode", "demo", "--engine", "fake", "--run-dir", str(tmp_path / "runs")]
    solutions = ["run", "openmathreasoning/solutions", *common, "--set", f"source.path={problems}"]
    assert main([*solutions, "--output", str(tmp_path / "solutions")]) == 0
    judged = f"{tmp_path}/solutions/judged/*/*.parquet"
    assert main(["run", RECIPE, *common, "--set", f"source.path={judged}", "--output", str(tmp_path / "gs")]) == 0
    rows = concatenate_datasets(list(load_dataset(str(tmp_path / "gs"), "genselect").values()))
    assert len(rows) and set(rows["problem_id"]) == {"t0-p0"}  # t1-p0's solutions are all correct
    assert all(ok and c[0] and False in c for ok, c in zip(rows["pick_correct"], rows["candidate_correct"]))
    assert all(
        len(re.findall(r"Solution \d+:\n", m[0]["content"])) == len(c)
        for m, c in zip(rows["messages"], rows["candidates"])
    )
    picked = concatenate_datasets(list(load_dataset(str(tmp_path / "gs"), "picks").values()))
    assert set(rows["id"]) < set(picked["id"]) and False in picked["pick_correct"]  # wrong picks: only in `picks`
    manifest = json.loads((tmp_path / "gs/manifest.json").read_text())
    stages = {s["stage"]: s for s in manifest["stages"]}
    picks = stages["label_data"]["counters"]
    assert picks["picks_correct"] == len(rows) and picks["picks_unparseable"] == 0
    assert picks["picks_correct"] + picks["picks_wrong"] == stages["prepare_labeling_data"]["rows_out"] == len(picked)
    assert stages["prepare_for_sft"]["dropped"].get("wrong_pick", 0) == picks["picks_wrong"]
    card = " ".join((tmp_path / "gs/README.md").read_text().split())
    assert f"picked a correct candidate {len(rows)} times, a wrong one {picks['picks_wrong']} times" in card
