"""Critique data: reward parsing, the mixed-correctness filter, balanced seeded critique rows, sources."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from magpie_hf.math.rewards import critique_reward, parse_conclusion
from magpie_hf.pipelines.critique.critique import CRITIQUE_PROMPT, CritiqueConfig, build_critiques
from magpie_hf.pipelines.critique.mixed_filter import MixedFilterConfig, filter_reason, keep_mixed
from magpie_hf.stages.grade import GradeConfig, grade


@pytest.mark.parametrize(
    "text, verdict",
    [
        ("The student forgot a sign.\nConclusion: wrong [END]", "wrong"),
        ("Looks fine. Conclusion: right [END]", "right"),
        ("conclusion: RIGHT [end]", "right"),
        ("**Conclusion:** **wrong** [END]", "wrong"),
        ("Conclusion: right", "right"),
        ("Conclusion: wrong [END] and some trailing text", "wrong"),
        ("First I thought Conclusion: right, but no. Conclusion: wrong [END]", "wrong"),
        ("The answer is right.", None),
        ("Conclusion: rightly so [END]", None),
        ("", None),
    ],
)
def test_parse_conclusion(text, verdict):
    assert parse_conclusion(text) == verdict


def test_critique_reward_scores_matching_verdicts_only():
    assert critique_reward("... Conclusion: wrong [END]", "wrong") == 1.0
    assert critique_reward("... Conclusion: right [END]", "wrong") == 0.0
    assert critique_reward("no verdict at all", "right") == 0.0
    assert critique_reward("Conclusion: Right [END]", " right ") == 1.0


@pytest.mark.parametrize(
    "all_correct, all_incorrect, reason",
    [
        ([True, True], [False, False], "all_models_all_correct"),
        ([False, False], [True, True], "all_models_all_incorrect"),
        ([True, False], [False, True], None),  # one model always right, the other always wrong
        ([False, False], [False, False], None),  # both mixed
        ([True, False], [False, False], None),
        ([False, False], [True, False], None),
    ],
)
def test_mixed_filter_edges(all_correct, all_incorrect, reason):
    assert filter_reason(all_correct, all_incorrect) == reason


def batch():
    return {
        "id": ["math-000000", "math-000001"],
        "index": [0, 1],
        "domain": ["math", "math"],
        "problem": ["What is 1/2 + 1/4?", "What is 2+2?"],
        "answer": ["3/4", "4"],
        "a": [["\\boxed{0.75}", "\\boxed{1}", "so \\boxed{3/4}"], ["\\boxed{4}", "\\boxed{5}", "I give up"]],
        "b": [
            ["\\boxed{\\frac{3}{4}}", "\\boxed{2}", "\\boxed{3/4}"],
            ["\\boxed{4.0}", "\\boxed{4}", "\\boxed{4}"],
        ],
        "a_finish_reasons": [["stop"] * 3, ["stop", "stop", "length"]],
        "b_finish_reasons": [["stop"] * 3, ["stop"] * 3],
    }


GRADE = GradeConfig(columns=["a", "b"], reference="answer")


def test_grade_per_model_flags_and_the_mixed_filter(embedded):
    out = grade(batch(), GRADE, embedded)
    assert out["a_correct"] == [[True, False, True], [True, False, None]]
    assert out["b_correct"] == [[True, False, True], [True, True, True]]
    assert out["a_answers"][1][2] is None and out["a_verdicts"][1][2] == "unparseable"
    kept = keep_mixed(out, MixedFilterConfig(columns=["a", "b"]), embedded)["filter_reason"]
    assert kept == [None, None]  # b is all-correct on the second problem, a is not
    all_right = {"a_correct": [[True, True]], "b_correct": [[True]]}
    assert keep_mixed(all_right, MixedFilterConfig(columns=["a", "b"]), embedded)["filter_reason"] == [
        "all_models_all_correct"
    ]
    undecided = {"a_correct": [[None, False]], "b_correct": [[False]]}
    assert keep_mixed(undecided, MixedFilterConfig(columns=["a", "b"]), embedded)["filter_reason"] == [
        "all_models_all_incorrect"
    ]


def test_mixed_filter_flags_each_models_consistency(embedded):
    graded = {"a_correct": [[True, True], [False, None], [True, False]], "b_correct": [[True], [True], [None]]}
    out = keep_mixed(graded, MixedFilterConfig(columns=["a", "b"]), embedded)
    assert out["a_all_correct"] == [True, False, False] and out["a_all_wrong"] == [False, True, False]
    assert out["b_all_correct"] == [True, True, False] and out["b_all_wrong"] == [False, False, True]
    assert out["filter_reason"] == ["all_models_all_correct", None, None]
    columns = keep_mixed.stage.output_columns(MixedFilterConfig(columns=["a"]))
    assert columns == ("a_all_correct", "a_all_wrong", "filter_reason")


def test_critique_rows_are_verl_rows_balanced_and_stable(embedded):
    rows = {**batch(), **grade(batch(), GRADE, embedded)}
    cfg = CritiqueConfig(columns=["a", "b"], per_problem=4, seed=3)
    out = build_critiques(rows, cfg, embedded)
    assert out == build_critiques(rows, cfg, embedded)  # seeded per problem
    dropped = [i for i, r in enumerate(out["filter_reason"]) if r]
    assert [(out["id"][i], out["filter_reason"][i]) for i in dropped] == [("math-000001-a-2", "truncated_solution")]
    out = {k: [v for i, v in enumerate(values) if i not in dropped] for k, values in out.items()}
    first = [i for i, p in enumerate(out["problem_id"]) if p == "math-000000"]
    truths = [out["reward_model"][i]["ground_truth"] for i in first]
    assert len(first) == 4 and truths.count("right") == 2 and truths.count("wrong") == 2
    second = [out["reward_model"][i]["ground_truth"] for i, p in enumerate(out["problem_id"]) if p == "math-000001"]
    assert second.count("wrong") == 1  # the one wrong sample that was not cut off; the rest are right
    assert len(set(out["id"])) == len(out["id"])
    row = {k: v[0] for k, v in out.items()}
    assert row["prompt"][0]["role"] == "user" and row["prompt"][0]["content"].startswith(CRITIQUE_PROMPT)
    assert "Question: What is 1/2 + 1/4?" in row["prompt"][0]["content"]
    assert row["reward_model"] == {"style": "rule", "ground_truth": row["answer"]} and row["answer"] == row["target"]
    assert row["ability"] == "critique" and row["data_source"] == "deepscaler_critique"
    assert row["question"] == "What is 1/2 + 1/4?"
    extra = row["extra_info"]
    assert set(extra) == {"index", "split", "original_index", "solution_index", "model_source", "solution", "question_gt_answer"}
    assert extra["model_source"] in {"a", "b"} and extra["question_gt_answer"] == "3/4" and extra["original_index"] == 0
    assert extra["solution"] == rows[extra["model_source"]][0][extra["solution_index"]]
    assert extra["solution"] in row["prompt"][0]["content"]
    assert CRITIQUE_PROMPT.endswith("'Conclusion: right/wrong [END]'")


def test_source_reads_shared_training_problems_and_names_missing_paths(tmp_path):
    from magpie_hf.core.recipe import RecipeError, load_recipe
    from magpie_hf.core.source import Source
    from magpie_hf.run.sources import load_source

    rows, fp = load_source(Source(path="../shared/data/train/math_train_2k.jsonl", limit=5), "math")
    assert rows["id"] == [f"math-{i:06d}" for i in range(5)] and rows["index"] == list(range(5))
    assert set(rows.column_names) >= {"problem", "answer"} and all(rows["answer"])
    assert load_source(Source(path="../shared/data/train/math_train_2k.jsonl", limit=5), "math")[1] == fp
    with pytest.raises(ValueError, match="column 'question' is not in"):
        load_source(Source(path="../shared/data/train/math_train_2k.jsonl", columns={"problem": "question"}), "math")
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "name: x\nsource: {path: ../shared/nowhere/x.jsonl}\nstages: [{stage: grade, columns: [a]}]\n"
    )
    with pytest.raises(RecipeError, match="source.path: file '../shared/nowhere/x.jsonl' not found"):
        load_recipe(recipe)


def test_worker_commands_give_each_worker_its_own_gpus(tmp_path):
    from magpie_hf.run.executors.local import worker_commands

    single = worker_commands("recipes/cft/critique.yaml", 8).splitlines()
    assert [line.split()[0] for line in single[1:9]] == [f"CUDA_VISIBLE_DEVICES={g}" for g in range(8)]
    assert "--rank 0 --world-size 8" in single[1]
    recipe = tmp_path / "tp4.yaml"
    recipe.write_text(Path("recipes/cft/critique.yaml").read_text() + "engine: {tensor_parallel_size: 4}\n")
    lines = worker_commands(str(recipe), 8).splitlines()
    assert "CUDA_VISIBLE_DEVICES=0,1,2,3 " in lines[1] and "--rank 0 --world-size 2" in lines[1]
    assert "CUDA_VISIBLE_DEVICES=4,5,6,7 " in lines[2] and lines[2].endswith("&")
    assert lines[-2] == "wait" and "--rank" not in lines[-1]


def test_critique_export_has_verl_field_types_and_each_row_its_split(tmp_path, embedded):
    from datasets import Dataset, load_dataset

    from magpie_hf.core.pipeline import get_pipeline
    from magpie_hf.pipelines.critique import critique_rows
    from magpie_hf.publish.export import export_tables

    batch = {
        "id": ["math-000000", "math-000001"],
        "index": [0, 1],
        "domain": ["math", "math"],
        "problem": ["What is 2+2?", "What is 3+3?"],
        "answer": ["4", "6"],
        "a": [["\\boxed{4}", "\\boxed{5}"], ["\\boxed{6}", "\\boxed{7}"]],
        "a_finish_reasons": [["stop", "stop"]] * 2,
        "a_correct": [[True, False]] * 2,
        "a_answers": [["4", "5"], ["6", "7"]],
    }
    built = build_critiques(batch, CritiqueConfig(columns=["a"]), embedded)
    rows = Dataset.from_dict(built).remove_columns("filter_reason")
    model = {"model_id": "HuggingFaceTB/SmolLM2-135M-Instruct", "name": "embedded", "engine": "vllm"}
    info = {"recipe": "t", "model": model, "stages": [], "command": "magpie-hf run t.yaml"}
    export_tables({"critique": critique_rows(rows)}, info, tmp_path / "x", get_pipeline("critique"), 0.5, 0)
    splits = load_dataset(str(tmp_path / "x"), "critique")
    assert set(splits) == {"train", "test"} and all(extra["split"] == "train" for extra in rows["extra_info"])
    assert set(splits["train"].column_names) == {
        "id", "problem_id", "domain", "data_source", "prompt", "ability", "reward_model", "extra_info", "question",
        "answer", "target",
    }
    for split, row in ((split, row) for split, loaded in splits.items() for row in loaded):
        assert row["data_source"] == "deepscaler_critique" and row["ability"] == "critique"
        assert isinstance(row["prompt"], list) and set(row["prompt"][0]) == {"role", "content"}
        assert row["reward_model"]["style"] == "rule" and row["reward_model"]["ground_truth"] in {"right", "wrong"}
        assert row["answer"] == row["target"] == row["reward_model"]["ground_truth"]
        assert isinstance(row["question"], str)
        extra = row["extra_info"]
        assert isinstance(extra["index"], int) and isinstance(extra["original_index"], int)
        assert isinstance(extra["solution_index"], int) and extra["split"] == split
        assert isinstance(extra["model_source"], str) and isinstance(extra["solution"], str)
        assert extra["question_gt_answer"] == {"What is 2+2?": "4", "What is 3+3?": "6"}[row["question"]]


def test_critique_export_rows_hold_every_field_of_their_source_row(scripted, tmp_path):
    import pyarrow.parquet as pq

    from magpie_hf.core.recipe import load_recipe
    from magpie_hf.run.job import run_recipe

    _, engine = scripted
    engine.rules["What is 2+2?"] = ["\\boxed{4}", "\\boxed{5}"]  # both models right and wrong: kept
    engine.default = "\\boxed{6}"  # always right on 3+3: dropped
    fields = {"solution": "...", "difficulty": 1.0, "type": "Prealgebra", "tags": ["sum"], "meta": {"year": 2020}}
    source_rows = [
        {"problem": "What is 2+2?", "answer": "4", **fields},
        {"problem": "What is 3+3?", "answer": "6", **fields, "tags": [], "meta": {"year": None}},
    ]
    path = tmp_path / "deepscaler_train.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in source_rows))
    sets = [f"source.path={path}", "test_fraction=0", "stages.grade.workers=1"]
    folders = {"run_dir": str(tmp_path / "runs"), "output": str(tmp_path / "out")}
    recipe = load_recipe("recipes/cft/demo.yaml", sets, engine="fake", **folders)
    assert recipe.source.keep == "all"  # the critique recipe's default
    run = run_recipe(recipe, push=False)
    graded = run.result.all_rows["mixed_filter"]
    assert graded["source_row"] == source_rows  # the filtered data keeps every original field
    assert graded["model_a_all_correct"] == [False, True] and graded["model_b_all_wrong"] == [False, False]
    assert graded["filter_reason"] == [None, "all_models_all_correct"]
    exported = [row for f in sorted((tmp_path / "out").rglob("*.parquet")) for row in pq.read_table(f).to_pylist()]
    assert len(exported) == 4
    assert all(row["extra_info"]["source_row"] == source_rows[0] for row in exported)
