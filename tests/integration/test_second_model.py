"""The production paths on CPU with a real engine: a second model with R1-Distill-Qwen's chat template.

Runs after the other integration tests: switching models shuts their session engine down.
"""

from __future__ import annotations

import json

import pytest

from magpie_hf.core.recipe import Recipe
from magpie_hf.engines import Sampling
from magpie_hf.models.presets import complete, resolve_model
from magpie_hf.pipelines.magpie_math.rewards import RewardsConfig, judge_scores
from magpie_hf.run.job import run_recipe

SMALL = (("max_model_len", 2048),)


@pytest.fixture(scope="module")
def second(second_model, run_context):
    """The second model, bound to the session's run (loading it releases the embedded engine)."""
    return run_context.bind(complete(resolve_model(str(second_model), engine_args=SMALL)))


def test_magpie_generation_stops_at_the_derived_assistant_marker(second):
    assert second.magpie_prefix(None).endswith("<｜User｜>") and second.stop == ("<｜Assistant｜>",)
    shots = "".join(f"What is {k}+{k}?<｜Assistant｜>{2 * k}<｜User｜>" for k in range(1, 6))
    prompt = second.magpie_prefix(None) + shots + "What is 6+6?"
    free = Sampling(temperature=0.0, max_tokens=24, stop_token_ids=second.stop_token_ids)
    unstopped = second.generate([prompt], free)[0][0]
    assert "<｜Assistant｜>" in unstopped.text  # the model does write the marker...
    stopped = second.generate([prompt], Sampling(**{**free.to_dict(), "stop": second.stop}))[0][0]
    assert stopped.finish_reason == "stop" and "<｜Assistant｜>" not in stopped.text  # ...and generation ends there
    assert unstopped.text.startswith(stopped.text)


def test_the_judge_reads_a_verdict_under_the_think_template(second):
    pairs = [
        ("What is 2+2?", "2+2 = 4, so the answer is \\boxed{4}."),
        ("What is 2+2?", "The answer is \\boxed{5}."),
        ("Solve x + 3 = 10.", "Subtract 3: x = 7. \\boxed{7}"),
        ("What is the derivative of x^2?", "It is 2x, by the power rule."),
    ]
    conversations = [[{"role": "user", "content": p}, {"role": "assistant", "content": s}] for p, s in pairs]
    scores = judge_scores(conversations, RewardsConfig(scorer="judge"), second, ["a", "b", "c", "d"])
    assert len(set(scores)) == len(scores)  # no ties: every first token is a verdict, not "<think>"
    assert all(0.0 < s < 1.0 for s in scores)


def test_a_two_model_critique_recipe_switches_engines_in_one_process(second_model, tmp_path, run_context):
    source = tmp_path / "problems.jsonl"
    rows = [("What is 3+4?", "7"), ("What is 10-6?", "4"), ("Add " + "one and one, " * 1500 + "then stop.", "2")]
    source.write_text("".join(json.dumps({"problem": p, "answer": a}) + "\n" for p, a in rows))
    sample = {"stage": "sample", "n": 2, "temperature": 0.8, "max_tokens": 48}
    recipe = Recipe(
        name="two_models",
        pipeline="critique",
        domain="math",
        engine={"max_model_len": 2048},
        source={"path": str(source), "columns": {"problem": "problem", "answer": "answer"}},
        run_dir=str(tmp_path / "run"),
        output=str(tmp_path / "out"),
        stages=[
            {**sample, "label": "model_a", "model": "embedded"},
            {**sample, "label": "model_b", "model": str(second_model)},
            {"stage": "grade", "columns": ["model_a", "model_b"], "reference": "answer"},
            {"stage": "mixed_filter", "columns": ["model_a", "model_b"]},
            {"stage": "critique", "columns": ["model_a", "model_b"], "per_problem": 2},
        ],
    )
    run = run_recipe(recipe, context=run_context)
    assert run.complete
    reports = {r.stage: r for r in run.result.reports}
    assert reports["model_a"].dropped == {"prompt_too_long": 1}  # the overlong problem, counted; the run goes on
    assert reports["model_b"].rows_in == 2 and reports["model_b"].load_seconds > 0
    b = run.result.datasets["model_b"]
    assert b["model_b_config"][0]["model"] == str(second_model) and b["model_b_config"][0]["template"].endswith("<think>\n")
    assert [held.name for held in run_context.loaded.values()] == [str(second_model)]  # the first was shut down
    loads = [(e["event"], e["model"]) for e in run.info["model_loads"]]
    assert loads[-2:] == [("release", "HuggingFaceTB/SmolLM2-135M-Instruct"), ("load", str(second_model))]
    assert {m["name"]: m["chat_template"] for m in run.info["models"]} == {"embedded": "preset", "second-model": "derived"}
