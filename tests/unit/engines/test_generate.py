"""`generate` through a run's bound model: prompts measured against the context, failing batches retried a
prompt at a time, and the failed prompts' rows (by their own id, never a prefix of it) dropped."""

from __future__ import annotations

from dataclasses import replace

import pytest
from datasets import Dataset

from magpie_hf.core.recipe import Recipe
from magpie_hf.engines import Sampling
from magpie_hf.engines.base import EngineRefusal, PartialFailure
from magpie_hf.engines.fake import ScriptedEngine
from magpie_hf.run.runner import run_stages

LONG = "Compute " + "one plus one, " * 800 + "and more."


def test_a_prompt_past_the_context_is_not_sent_and_its_row_is_named(scripted):
    model, engine = scripted
    engine.default = "fine"
    outs = model.generate(["short one", LONG, "short two"], Sampling(n=2, max_tokens=64), ids=["a", "b", "c"])
    assert [o[0].text for o in outs] == ["fine", "", "fine"]
    assert [c.finish_reason for c in outs[1]] == ["prompt_too_long"] * 2
    assert model.failures == {"b": "prompt_too_long"}
    assert model.run.usage.requests == 2  # the long prompt was never sent
    assert all("one plus one" not in p for p in engine.prompts)


def test_the_limit_is_the_context_minus_max_tokens_or_max_prompt_tokens(scripted):
    model, engine = scripted  # the embedded context: 2048 tokens
    prompt = "word " * 100  # ~100 tokens
    assert model.generate([prompt], Sampling(max_tokens=1990))[0][0].finish_reason == "prompt_too_long"
    assert model.generate([prompt], Sampling(max_tokens=1800))[0][0].finish_reason == "stop"
    capped = model.run.bind(replace(model.preset, max_prompt_tokens=50))
    assert capped.generate([prompt], Sampling(max_tokens=8))[0][0].text == ""
    # max_tokens alone past the context: vLLM's own bound, the prompt must leave one token
    assert model.generate([prompt], Sampling(max_tokens=4096))[0][0].finish_reason == "stop"


class Fragile(ScriptedEngine):
    """Fails any batch that holds a prompt with BAD in it (as vLLM fails a whole batch on one bad request)."""

    def generate(self, prompts, sampling, usage=None):
        if any("BAD" in p for p in prompts) or self.default == "dead":
            raise RuntimeError("engine rejected a request")
        return super().generate(prompts, sampling)


def test_a_failing_batch_is_retried_alone_and_only_the_bad_prompt_fails(scripted):
    model, _ = scripted
    engine = Fragile(default="ok")
    model.run.install(model.preset, engine)
    outs = model.generate(["one", "BAD two", "three"], Sampling(), ids=["a", "b", "c"])
    assert [o[0].text for o in outs] == ["ok", "", "ok"] and outs[1][0].finish_reason == "generation_failed"
    assert model.failures == {"b": "generation_failed"}
    engine.default = "dead"  # every prompt fails alone too: the engine is broken, the run must stop
    with pytest.raises(RuntimeError, match="rejected"):
        model.generate(["one", "two"], Sampling(), ids=["a", "b"])


class Picky(ScriptedEngine):
    """Answers each prompt on its own, as the API engine does: the refused ones fail, the others keep their answer."""

    def generate(self, prompts, sampling, usage=None):
        outs = super().generate(prompts, sampling)
        errors = [EngineRefusal(f"refused {p}") for p in prompts if "BAD" in p]
        if errors:
            raise PartialFailure([None if "BAD" in p else o for p, o in zip(prompts, outs)], errors)
        return outs


def test_an_engine_that_tells_which_prompts_failed_is_not_asked_again(scripted):
    model, _ = scripted
    engine = Picky(default="ok")
    model.run.install(model.preset, engine)
    outs = model.generate(["one", "BAD two", "three"], Sampling(), ids=["a", "b", "c"])
    assert [o[0].text for o in outs] == ["ok", "", "ok"] and model.failures == {"b": "generation_failed"}
    assert len(engine.prompts) == 3  # the answered prompts were not sent again
    with pytest.raises(EngineRefusal, match="refused BAD one"):  # every prompt refused: the endpoint is wrong
        model.generate(["BAD one", "BAD two"], Sampling(), ids=["a", "b"])


def test_the_runner_drops_and_counts_the_row_while_the_run_completes(scripted, tmp_path):
    model, engine = scripted
    engine.default = "\\boxed{2}"
    recipe = Recipe(name="t", count=3, shard_size=3, stages=[{"stage": "sample", "label": "solution", "max_tokens": 64}])
    data = Dataset.from_dict({"id": ["p0", "p1", "p2"], "domain": ["d"] * 3, "problem": ["1+1?", LONG, "2+0?"]})
    result = run_stages(data, "fp", recipe.stage_entries(), model.preset, tmp_path, 3, run=model.run)
    assert result.complete and result.datasets["solution"]["id"] == ["p0", "p2"]
    assert result.reports[0].dropped == {"prompt_too_long": 1}
    assert result.all_rows["solution"]["filter_reason"] == [None, "prompt_too_long", None]


def test_an_exploding_stage_drops_the_rows_of_a_failed_parent(scripted, tmp_path):
    model, engine = scripted
    engine.default = "Problem 1: 1+1?\nProblem 2: 2+2?"
    recipe = Recipe(
        name="t", count=2, stages=[{"stage": "ask_list", "prompt": "List the problems.\n\n{post}", "max_tokens": 64}]
    )
    data = Dataset.from_dict({"id": ["t0", "t1"], "domain": ["d"] * 2, "post": ["a post", LONG]})
    result = run_stages(data, "fp", recipe.stage_entries(), model.preset, tmp_path, 8, run=model.run)
    assert result.datasets["ask_list"]["id"] == ["t0-p0", "t0-p1"]
    assert result.reports[0].dropped == {"prompt_too_long": 1}


def test_a_row_whose_id_extends_a_failed_rows_id_is_kept(scripted, tmp_path):
    model, engine = scripted
    engine.default = "\\boxed{2}"
    recipe = Recipe(name="t", count=3, shard_size=3, stages=[{"stage": "sample", "label": "solution", "max_tokens": 64}])
    data = Dataset.from_dict({"id": ["X", "X-1", "X-2"], "domain": ["d"] * 3, "problem": [LONG, "1+1?", "2+0?"]})
    result = run_stages(data, "fp", recipe.stage_entries(), model.preset, tmp_path, 3, run=model.run)
    assert result.datasets["solution"]["id"] == ["X-1", "X-2"]  # not taken for rows made from X
    assert result.reports[0].dropped == {"prompt_too_long": 1}
