"""One heavy model per device on the real engine: the vLLM engine goes before the reward model loads.

Loading the scorer releases the session's engine; the next test that needs it loads it again.
"""

from __future__ import annotations

import logging
from pathlib import Path

from magpie_hf.core.recipe import Recipe
from magpie_hf.run.job import run_recipe


def scored_run(folder: Path, reward_model: Path, count: int, seed: int) -> Recipe:
    """Magpie problems, two candidates each, scored by the small reward model."""
    return Recipe(
        name="residency",
        pipeline="magpie_math",
        domain="algebra",
        count=count,
        seed=seed,
        run_dir=str(folder / "run"),
        output=str(folder / "out"),
        stages=[
            {"stage": "instructions", "system_prompt": "You write short algebra problems.", "max_tokens": 32},
            {"stage": "sample", "label": "candidates", "n": 2, "temperature": 0.8, "max_tokens": 32},
            {"stage": "rewards", "scorer": "reward_model", "reward_model": str(reward_model), "max_length": 256},
        ],
    )


def test_the_engine_is_released_before_the_reward_model_loads(tmp_path, tiny_reward_model, run_context, caplog):
    recipe = scored_run(tmp_path, tiny_reward_model, count=3, seed=1)
    run_context.engine(recipe.preset())  # held from an earlier stage, as in a real run
    with caplog.at_level(logging.INFO, logger="magpie_hf.run.context"):
        run = run_recipe(recipe, context=run_context)
    assert run.complete and all(len(s) == 2 for s in run.result.datasets["rewards"]["candidate_scores"])
    events = [(e["event"], e["kind"], e["stage"]) for e in run.info["model_loads"]]
    assert events == [("release", "engine", "rewards"), ("load", "scorer", "rewards")]
    logged = [r.getMessage().split()[:2] for r in caplog.records if r.name == "magpie_hf.run.context"]
    assert logged == [["release", "engine"], ["load", "scorer"]]
    assert [held.kind for held in run_context.loaded.values()] == ["scorer"]


def test_a_fresh_run_logs_engine_load_release_then_scorer_load(tmp_path, tiny_reward_model):
    run = run_recipe(scored_run(tmp_path, tiny_reward_model, count=2, seed=2))  # its own context, released on return
    events = [(e["event"], e["kind"]) for e in run.info["model_loads"]]
    assert events == [("load", "engine"), ("release", "engine"), ("load", "scorer")]
    assert [e["device"] for e in run.info["model_loads"]] == ["cpu"] * 3
    assert run.info["model_loads"][0]["seconds"] > 0
