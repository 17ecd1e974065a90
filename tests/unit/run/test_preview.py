"""`plan`'s figures from a recipe and a run dir: rows through finished stages, the model steps, shared devices."""

from __future__ import annotations

from magpie_hf.core.recipe import Recipe
from magpie_hf.engines import BACKENDS
from magpie_hf.run.job import input_rows, run_recipe
from magpie_hf.run.preview import model_steps, preview

SCORER = "RLHFlow/ArmoRM-Llama3-8B-v0.1"


def magpie(tmp_path, **extra) -> Recipe:
    return Recipe(
        name="p",
        domain="algebra",
        count=10,
        shard_size=4,
        run_dir=str(tmp_path / "run"),
        output=str(tmp_path / "out"),
        stages=[
            {"stage": "instructions", "max_tokens": 16},
            {"stage": "sample", "label": "candidates", "n": 3, "temperature": 0.8, "max_tokens": 10},
            {"stage": "rewards", "scorer": "reward_model"},
        ],
        **extra,
    )


def steps(recipe: Recipe, gpus: int) -> list[tuple[str, str, str, str]]:
    found, _ = model_steps(recipe, gpus, {SCORER: None})  # the scorer counted as reachable: no Hub request
    return [(s.action, s.kind, s.stage, ",".join(s.devices)) for s in found]


def test_on_one_gpu_the_engine_is_released_before_the_scorer_loads(tmp_path):
    assert steps(magpie(tmp_path), gpus=1) == [
        ("load", "engine", "instructions", "cuda:0"),
        ("release", "engine", "rewards", "cuda:0"),
        ("load", "scorer", "rewards", "cuda:0"),
        ("release", "scorer", "end", "cuda:0"),
    ]


def test_share_device_keeps_both_and_says_so(tmp_path):
    recipe = magpie(tmp_path, engine={"share_device": True})
    found, shared = model_steps(recipe, 1, {SCORER: None})
    assert [s.action for s in found] == ["load", "load", "release", "release"]
    assert shared == [f"cuda:0: {SCORER} beside HuggingFaceTB/SmolLM2-135M-Instruct (engine.share_device)"]


def test_weights_are_counted_from_the_local_folder(tmp_path):
    engine = model_steps(magpie(tmp_path), 0, {SCORER: None})[0][0]
    assert engine.weight_source == "local config" and 0.25e9 < engine.weight_bytes < 0.3e9  # 135M x bf16
    assert engine.engine["max_model_len"] == 2048 and engine.devices == ("cpu",)


def test_rows_are_exact_through_finished_stages_and_bounded_after(tmp_path, scripted, monkeypatch):
    model, engine = scripted
    engine.default = "What is 2+2?"
    monkeypatch.setitem(BACKENDS, "fake", lambda preset: engine)
    recipe = magpie(tmp_path, engine="fake")
    data, fp = input_rows(recipe, None)
    before = preview(recipe, len(data), fp, 0, {SCORER: None}).stages
    assert [(s.rows, s.exact, s.shards_done, s.shards_pending) for s in before][0] == (10, True, 0, 3)
    assert before[0].requests == 10 and before[0].max_tokens == 10 * 16
    assert before[1].max_tokens == 10 * 3 * 10 and not before[1].exact and before[1].shards_pending is None
    assert not before[2].calls_model  # the reward model is not the LLM: no requests
    run_recipe(recipe, only=["instructions"])
    after = preview(recipe, len(data), fp, 0, {SCORER: None}).stages
    assert [(s.rows, s.exact, s.shards_done, s.shards_pending) for s in after[:2]] == [(10, True, 3, 0), (10, True, 0, 3)]


def test_a_stage_with_no_rows_loads_no_model(tmp_path, monkeypatch):
    def refuse(preset):
        raise AssertionError("an engine was loaded for no rows")

    monkeypatch.setitem(BACKENDS, "fake", refuse)
    source = tmp_path / "none.jsonl"
    source.write_text("")
    recipe = Recipe(
        name="empty",
        domain="math",
        engine="fake",
        source={"path": str(source), "columns": {"problem": "problem", "answer": "answer"}},
        run_dir=str(tmp_path / "run"),
        output=str(tmp_path / "out"),
        stages=[{"stage": "sample", "label": "solution", "max_tokens": 8}],
    )
    run = run_recipe(recipe)
    assert run.complete and run.info["model_loads"] == []


def test_requests_count_every_round_of_a_tir_stage_and_every_question_of_a_classify_chain(tmp_path):
    recipe = Recipe(
        name="p",
        domain="forum",
        count=10,
        run_dir=str(tmp_path / "run"),
        output=str(tmp_path / "out"),
        stages=[
            {"stage": "classify", "steps": [{"name": "proof", "prompt": "{id}?"}, {"name": "mcq", "prompt": "{id}?"}]},
            {"stage": "tir", "label": "solver", "prompt": "{id}", "n": 4, "max_code_executions": 2, "max_tokens": 64},
        ],
    )
    data, fp = input_rows(recipe, None)
    classify, solve = preview(recipe, len(data), fp, 0, {}).stages
    assert classify.requests == 10 * 2
    assert solve.requests == 10 * 4 * 3 and solve.max_tokens == 10 * 4 * 64  # max_tokens bounds a whole solution
