"""The runner with a scripted engine: shards, reuse, fingerprints, workers, fsspec run dirs, every-row tables."""

from __future__ import annotations

import uuid
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from magpie_hf.core.recipe import Recipe
from magpie_hf.core.result import every_row
from magpie_hf.run.executors.local import LocalExecutor
from magpie_hf.run.plan import plan_stage
from magpie_hf.run.runner import MissingInput, run_stages, source_rows

PROBLEMS = [
    "Find x such that x + 1 = 2?",
    "Compute the sum of the first ten odd numbers.",
    "short",
    "Determine all primes p with p + 2 prime?",
    "Find x such that x + 1 = 2?",
    "Evaluate the integral of x from 0 to 1.",
]


def recipe(**stage) -> Recipe:
    params = {"stage": "instructions", "system_prompt": "You write short algebra problems.", "max_tokens": 16}
    return Recipe(name="t", domain="algebra", count=6, seed=3, shard_size=2, stages=[{**params, **stage}])


def run(r: Recipe, run_dir: Path, model, rank=None, world=None, only=None):
    data, fp = source_rows(r.domain, r.rows(6))
    executor = LocalExecutor(rank, world)
    return run_stages(data, fp, r.stage_entries(), model.preset, run_dir, r.shard_size, executor, only, model.run)


@pytest.fixture
def model(scripted):
    model, engine = scripted
    engine.default = lambda prompt: PROBLEMS[len(engine.prompts) % len(PROBLEMS) - 1]
    return model


def test_rows_keep_ids_and_provenance_in_three_shards(tmp_path, model):
    result = run(recipe(), tmp_path, model)
    data = result.datasets["instructions"]
    assert data["id"] == [f"algebra-{i:06d}" for i in range(6)]
    assert sorted(data["problem"]) == sorted(PROBLEMS)
    prov = data[0]["gen_input_configs"]
    assert prov["template"].endswith("<|im_start|>user\n") and "short algebra" in prov["template"]
    assert len(set(data["gen_input_configs"][i]["seed"] for i in range(6))) == 6
    report = result.reports[0]
    assert (report.shards_run, report.shards_reused, report.rows_out) == (3, 0, 6)
    assert report.generated_tokens == sum(data["problem_tokens"])


def test_rerun_reuses_every_shard_without_generating(tmp_path, model):
    first = run(recipe(), tmp_path, model).datasets["instructions"]
    before = model.run.usage.generated_tokens
    again = run(recipe(), tmp_path, model)
    assert model.run.usage.generated_tokens == before
    assert (again.reports[0].shards_run, again.reports[0].shards_reused) == (0, 3)
    assert again.datasets["instructions"]["problem"] == first["problem"]


def test_config_change_changes_fingerprint(tmp_path, embedded):
    data, fp = source_rows("algebra", 6)
    plans = [plan_stage(recipe(temperature=t).stage_entries()[0], fp, 6, embedded, tmp_path, 2) for t in (0.5, 0.6)]
    assert plans[0].fingerprint != plans[1].fingerprint
    assert plan_stage(recipe(temperature=0.5).stage_entries()[0], fp, 6, embedded, tmp_path, 2) == plans[0]
    other = replace(embedded, model_id="other/model")
    other_model = plan_stage(recipe(temperature=0.5).stage_entries()[0], fp, 6, other, tmp_path, 2)
    assert other_model.fingerprint != plans[0].fingerprint


def test_workers_take_disjoint_shards_and_merge_in_order(tmp_path, model):
    w0 = run(recipe(), tmp_path, model, rank=0, world=2)
    assert not w0.complete and w0.reports[0].shards_run == 2 and w0.reports[0].shards_pending == 1
    w1 = run(recipe(), tmp_path, model, rank=1, world=2)
    assert w1.complete and w1.reports[0].shards_run == 1
    merged = run(recipe(), tmp_path, model)
    assert merged.reports[0].shards_run == 0
    assert merged.datasets["instructions"]["id"] == [f"algebra-{i:06d}" for i in range(6)]


def test_checkpoints_can_live_behind_an_fsspec_url(model):
    """A run dir on any fsspec filesystem (here the in-memory one): shards uploaded whole, then marked done."""
    import fsspec

    url = f"memory://runs-{uuid.uuid4().hex}"
    first = run(recipe(), url, model)
    fs = fsspec.filesystem("memory")
    arrows = fs.glob(url.removeprefix("memory://") + "/instructions-*/shard-*.arrow")
    assert len(arrows) == 3 and len(fs.glob(url.removeprefix("memory://") + "/instructions-*/shard-*.done")) == 3
    again = run(recipe(), url, model)
    assert (again.reports[0].shards_run, again.reports[0].shards_reused) == (0, 3)
    assert again.datasets["instructions"]["problem"] == first.datasets["instructions"]["problem"]


def six_problems(*stages: dict) -> Recipe:
    """Six Magpie problems in 2-row shards, then `stages`."""
    return Recipe(
        name="t",
        domain="algebra",
        count=6,
        seed=3,
        shard_size=2,
        stages=[{"stage": "instructions", "max_tokens": 16}, *stages],
    )


def clean_recipe() -> Recipe:
    return six_problems({"stage": "clean"}, {"stage": "embed"}, {"stage": "dedup", "near_duplicate_distance": 0.0})


def test_every_row_table_keeps_dropped_rows_with_their_reason_in_order(tmp_path, model):
    result = run(clean_recipe(), tmp_path, model)
    kept = result.datasets["dedup"]
    rows = every_row(result, "dedup")
    assert rows["id"] == [f"algebra-{i:06d}" for i in range(6)]
    reasons = dict(zip(rows["id"], rows["filter_reason"]))
    assert sorted(r for r in reasons.values() if r) == ["exact_duplicate", "too_short"]
    assert set(kept["id"]) == {i for i, r in reasons.items() if r is None}
    assert result.reports[1].dropped == {"too_short": 1} and result.reports[3].dropped == {"exact_duplicate": 1}


def test_stages_only_needs_the_earlier_stages_finished(tmp_path, model):
    with pytest.raises(MissingInput, match="stage 'instructions' has not run"):
        run(clean_recipe(), tmp_path, model, only=["clean"])
    run(clean_recipe(), tmp_path, model, only=["instructions"])
    again = run(clean_recipe(), tmp_path, model, only=["clean"])
    assert again.complete and [r.shards_reused for r in again.reports] == [3, 0]
    assert [r.stage for r in again.reports] == ["instructions", "clean"]


def embed_recipe() -> Recipe:
    return six_problems({"stage": "embed"})


def test_the_embed_stage_stores_the_embedders_vectors_in_row_order(tmp_path, model):
    rows = run(embed_recipe(), tmp_path, model).datasets["embed"]
    expected = model.run.embedder().embed(rows["problem"])
    np.testing.assert_allclose(np.asarray(rows["embedding"]), expected, atol=1e-5)


def test_a_crash_in_the_embed_stage_then_a_rerun_embeds_only_the_unfinished_shards(tmp_path, model, monkeypatch):
    from magpie_hf.models.embeddings import Embedder

    real = Embedder.embed
    calls: list[list[str]] = []

    def crash_on_third_shard(self, texts, **kwargs):
        calls.append(list(texts))
        if len(calls) == 3:
            raise RuntimeError("killed")
        return real(self, texts, **kwargs)

    r = embed_recipe()
    monkeypatch.setattr(Embedder, "embed", crash_on_third_shard)
    with pytest.raises(RuntimeError, match="killed"):
        run(r, tmp_path, model)
    assert len(list(tmp_path.glob("embed-*/shard-*.done"))) == 2
    calls.clear()
    again = run(r, tmp_path, model)
    assert (again.reports[1].shards_run, again.reports[1].shards_reused) == (1, 2)
    assert len(calls) == 1 and len(again.datasets["embed"]["embedding"][5]) == 384
