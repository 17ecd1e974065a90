"""Cost: the engine block's price, the worst case `plan` shows, the actual cost in the summary, manifest and card."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from magpie_hf.cli.plan import cost_line, format_preview
from magpie_hf.cli.summary import format_summary
from magpie_hf.core.recipe import Recipe
from magpie_hf.core.result import RunResult, StageReport
from magpie_hf.engines import BACKENDS
from magpie_hf.engines.settings import EngineSettings, Price
from magpie_hf.publish.cards import cost_text
from magpie_hf.publish.export import manifest
from magpie_hf.run.job import input_rows
from magpie_hf.run.preview import preview, stage_previews

API = {"backend": "openai", "base_url": "http://127.0.0.1:9/v1"}
PRICE = {"input_per_million": 0.5, "output_per_million": 2.0}
SCORER = "RLHFlow/ArmoRM-Llama3-8B-v0.1"


def test_price_is_an_api_setting_and_no_engine_argument():
    with pytest.raises(ValidationError, match="price applies to backend openai only"):
        EngineSettings(backend="vllm", price=PRICE)
    with pytest.raises(ValidationError, match="output_per_million"):
        EngineSettings(**API, price={"input_per_million": 0.5})
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        EngineSettings(**API, price={**PRICE, "input_per_million": -1})
    priced = EngineSettings(**API, price=PRICE)
    assert priced.price == Price(**PRICE) and priced.engine_args() == EngineSettings(**API).engine_args()


def test_a_price_changes_no_fingerprint_and_no_engine_setting():
    def recipe(**engine) -> Recipe:
        return Recipe(name="p", count=10, engine={**API, **engine}, stages=[{"stage": "instructions"}])

    priced, plain = recipe(price=PRICE).preset(), recipe().preset()
    assert priced.fingerprint() == plain.fingerprint() and priced.settings() == plain.settings()
    assert "price" not in priced.settings()


def magpie(tmp_path, model: str = "embedded") -> Recipe:
    return Recipe(
        name="p",
        domain="algebra",
        count=10,
        model=model,
        engine={**API, "price": {"input_per_million": 2.0, "output_per_million": 10.0}},
        run_dir=str(tmp_path / "run"),
        output=str(tmp_path / "out"),
        stages=[
            {"stage": "instructions", "max_tokens": 16},
            {"stage": "sample", "label": "candidates", "n": 3, "max_tokens": 10},
            {"stage": "rewards", "scorer": "reward_model"},
        ],
    )


def test_plan_shows_the_worst_case_cost_per_stage_and_in_all(tmp_path):
    recipe = magpie(tmp_path)
    data, fp = input_rows(recipe, None)
    plan = preview(recipe, len(data), fp, 0, {SCORER: None})
    instructions, candidates, rewards = plan.stages
    # 10 requests, each a prompt of at most 2048 - max_tokens tokens (the embedded model's context) and n x max_tokens
    assert (instructions.prompt_tokens, instructions.max_tokens) == (10 * 2032, 10 * 16)
    assert instructions.max_cost(plan.price) == pytest.approx((20320 * 2.0 + 160 * 10.0) / 1e6)  # 0.04224
    assert (candidates.prompt_tokens, candidates.max_tokens) == (10 * 2038, 10 * 3 * 10)
    assert candidates.max_cost(plan.price) == pytest.approx((20380 * 2.0 + 300 * 10.0) / 1e6)  # 0.04376
    assert rewards.max_cost(plan.price) == 0  # the reward model is no paid endpoint
    text = format_preview(plan)
    header, _, *rows = text.splitlines()[1:6]
    assert header.split("  ")[-1] == "cost at most"
    assert rows[0].endswith("0.0422") and rows[1].endswith("0.0438") and rows[2].endswith("-")
    assert "cost at most 0.0860 (at 2.0 and 10.0 per million prompt and generated tokens;" in text


def test_plan_without_a_known_context_says_the_cost_is_unknown(tmp_path):
    recipe = magpie(tmp_path, model="someone/some-model")  # a Hub id without a preset: no max_model_len
    data, fp = input_rows(recipe, None)
    stages = stage_previews(recipe, len(data), fp)
    assert stages[0].prompt_tokens is None and stages[0].max_cost(recipe.engine.price) is None
    assert "cost unknown" in cost_line([s.max_cost(recipe.engine.price) for s in stages], recipe.engine.price)


def reports() -> list[StageReport]:
    return [
        StageReport(stage="classify", fingerprint="a", prompt_tokens=1_000_000, generated_tokens=500_000),
        StageReport(stage="judge", fingerprint="b", prompt_tokens=200_000, generated_tokens=0),
    ]


def test_the_summary_shows_the_cost_per_stage_and_in_all(tmp_path):
    result = RunResult({}, {}, reports(), complete=True, seconds=1.0)
    lines = format_summary(result, [], tmp_path, price=Price(**PRICE)).splitlines()
    assert lines[0].split("  ")[-1] == "cost"
    assert lines[2].endswith("1.5000") and lines[3].endswith("0.1000")  # 1M x 0.5 + 0.5M x 2.0; 0.2M x 0.5
    assert "cost 1.6000: 1200000 prompt and 500000 generated tokens at 0.5 and 2.0 per million" in lines
    assert "cost" not in format_summary(result, [], tmp_path)  # no price, no cost


def test_the_manifest_and_the_card_record_the_cost_and_the_price():
    recipe = Recipe(
        name="p",
        count=10,
        engine={**API, "price": PRICE},
        stages=[{"stage": "classify", "steps": [{"name": "k", "prompt": "{problem}"}]}, {"stage": "instructions"}],
    )
    result = RunResult({}, {}, reports(), complete=True, seconds=1.0)
    info = manifest(recipe, recipe.preset(), result, 10, ["magpie-hf", "run"])
    assert info["price"] == PRICE and info["cost"] == pytest.approx(1.6)
    assert [s["cost"] for s in info["stages"]] == [pytest.approx(1.5), pytest.approx(0.1)]
    assert cost_text(info) == (
        "1.6000 for 1,200,000 prompt and 500,000 generated tokens, at 0.5 and 2.0 per million (in the price's currency)"
    )
    plain = manifest(recipe.model_copy(update={"engine": EngineSettings(**API)}), recipe.preset(), result, 10, [])
    assert "cost" not in plain and "price" not in plain and cost_text(plain) == ""


def test_a_run_through_a_priced_endpoint_reports_its_cost_everywhere(scripted, monkeypatch, tmp_path):
    from magpie_hf.run.job import run_recipe

    _, engine = scripted
    engine.default = "What is the sum of the first ten odd numbers?"
    monkeypatch.setitem(BACKENDS, "openai", lambda preset: engine)  # the endpoint is the scripted engine
    recipe = Recipe(
        name="p",
        domain="algebra",
        count=10,
        engine={**API, "price": PRICE},
        run_dir=str(tmp_path / "run"),
        output=str(tmp_path / "out"),
        stages=[{"stage": "instructions", "max_tokens": 16}],
    )
    run = run_recipe(recipe, push=False)
    prompt, generated = run.result.tokens()
    assert prompt > 0 and generated == 10 * 10  # ten words per reply
    info = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert info["cost"] == pytest.approx((prompt * 0.5 + generated * 2.0) / 1e6) and info["price"] == PRICE
    assert f"- **Cost:** {cost_text(info)}." in (tmp_path / "out" / "README.md").read_text()
    summary = format_summary(run.result, run.written, run.run_dir, price=recipe.engine.price)
    assert f"cost {info['cost']:.4f}: {prompt} prompt and {generated} generated tokens" in summary
