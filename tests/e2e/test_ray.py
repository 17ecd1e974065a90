"""The Ray executor on a local 2-CPU cluster with the real embedded model.

Same rows as a local run; a killed actor loses and duplicates nothing; a shard
that keeps failing is reported while the others stay done; actors keep their
engine across stages with the same model; stages without a model run on the driver.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from magpie_hf.core.recipe import Recipe, StageEntry
from magpie_hf.core.stage import Stage, StageConfig
from magpie_hf.run.context import RunContext
from magpie_hf.run.executors.base import ShardFailures
from magpie_hf.run.plan import plan_stage
from magpie_hf.run.runner import run_stages, source_rows

pytestmark = pytest.mark.e2e
ray = pytest.importorskip("ray")

ROWS, SHARD_SIZE = 6, 2
SHARDS = ROWS // SHARD_SIZE
INSTRUCTIONS = {"stage": "instructions", "system_prompt": "You write short algebra problems.", "max_tokens": 16}


@pytest.fixture(scope="module")
def ray_executor():
    """Two actors on a local Ray of 2 CPUs, kept for the whole module as the CLI keeps them for a run."""
    from magpie_hf.run.executors.ray import RayExecutor

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    executor = RayExecutor(workers=2)
    yield executor
    executor.close()
    ray.shutdown()


def run(run_dir: Path, model, executor=None, stages=(INSTRUCTIONS,), extra=(), context=None):
    """The stages on ROWS fresh rows of shards of SHARD_SIZE, then any `extra` entries (locally: in `context`)."""
    recipe = Recipe(name="ray", domain="algebra", count=ROWS, seed=5, shard_size=SHARD_SIZE, stages=list(stages))
    data, fp = source_rows(recipe.domain, ROWS)
    entries = [*recipe.stage_entries(), *extra]
    return run_stages(data, fp, entries, model, run_dir, recipe.shard_size, executor=executor, run=context)


def model_free(name: str, fn) -> StageEntry:
    stage = Stage(name=name, fn=fn, config=StageConfig, version="1", inputs=("id",), outputs=(name,), uses_model=False)
    return StageEntry(stage=stage, config=StageConfig())


def test_actors_load_the_engine_once_for_two_stages_give_the_local_rows_and_leave_model_free_stages_to_the_driver(
    tmp_path, embedded, run_context, ray_executor
):
    local = run(tmp_path / "local", embedded, context=run_context).datasets["instructions"]
    ray_executor.close()  # fresh actors (the module's first test: none yet): every engine construction is counted
    sample = {"stage": "sample", "label": "response", "max_tokens": 16}
    where = model_free("pid", lambda batch, cfg, model: {"pid": [os.getpid()] * len(batch["id"])})
    on_ray = run(tmp_path / "ray", embedded, ray_executor, stages=(INSTRUCTIONS, sample), extra=[where])
    assert on_ray.reports[0].shards_run == SHARDS
    assert on_ray.datasets["instructions"]["id"] == local["id"]
    assert on_ray.datasets["instructions"]["problem"] == local["problem"]
    assert len(on_ray.datasets["response"]) == ROWS
    throughput = ray_executor.describe()["throughput"]
    on_actors = [throughput["instructions"], throughput["response"]]
    workers = {name for stage in on_actors for name in stage}
    assert workers <= {"ray-worker-0", "ray-worker-1"}
    for worker in workers:  # one engine per actor process, built on its first shard, used by both stages
        assert sum(stage[worker]["engine_loads"] for stage in on_actors if worker in stage) == 1
        assert len({stage[worker]["pid"] for stage in on_actors if worker in stage}) == 1
    assert set(on_ray.datasets["pid"]["pid"]) == {os.getpid()}
    assert list(throughput["pid"]) == ["driver"]
    instructions = throughput["instructions"]
    assert 1 <= len(instructions) <= 2 and sum(w["shards"] for w in instructions.values()) == SHARDS
    assert all(w["tokens_per_second"] > 0 for w in instructions.values())
    logs = [(tmp_path / "ray" / "logs" / f"{worker}.log").read_text() for worker in instructions]
    assert all("instructions: shard" in text for text in logs)  # each actor's own file in the run dir


def test_a_killed_worker_loses_nothing(tmp_path, embedded, ray_executor):
    run_dir = tmp_path / "runs"
    done_at_kill = []

    def kill_one_actor_mid_shard():
        deadline = time.time() + 300
        while not list(run_dir.glob("instructions-*/shard-*.done")) and time.time() < deadline:
            time.sleep(0.05)
        done_at_kill.append(len(list(run_dir.glob("instructions-*/shard-*.done"))))
        ray.kill(ray_executor.actors[0], no_restart=False)  # Ray restarts it and retries its shard

    killer = threading.Thread(target=kill_one_actor_mid_shard)
    killer.start()
    result = run(run_dir, embedded, ray_executor)
    killer.join()
    assert done_at_kill and done_at_kill[0] < SHARDS  # killed while shards were still running
    assert result.datasets["instructions"]["id"] == [f"algebra-{i:06d}" for i in range(ROWS)]
    assert len(list(run_dir.glob("instructions-*/shard-*.done"))) == SHARDS


def test_a_shard_that_keeps_failing_is_reported_and_the_others_are_kept(tmp_path, embedded, ray_executor):
    def flaky(batch, cfg, model):
        if "algebra-000003" in batch["id"]:
            raise ValueError("this shard always fails")
        return {"seen": [True] * len(batch["id"])}

    stage = Stage(name="flaky", fn=flaky, config=StageConfig, version="1", inputs=("id",), outputs=("seen",))
    entry = StageEntry(stage=stage, config=StageConfig())  # uses a model: runs on the actors
    data, fp = source_rows("algebra", 4)
    plan = plan_stage(entry, fp, len(data), embedded, str(tmp_path), 2)
    with pytest.raises(ShardFailures, match="shard 1: .*this shard always fails") as err:
        ray_executor.run_shards(data, plan, entry, embedded, lambda shard, stats: None, RunContext())
    assert set(err.value.failures) == {1}
    assert [s.index for s in plan.pending()] == [1]  # shard 0 stays done for the rerun


def test_actors_are_replaced_when_the_model_changes(ray_executor):
    from magpie_hf.models.presets import model_for, resolve_model

    embedded = resolve_model("embedded")
    own = Recipe(name="m", count=1, stages=[{"stage": "sample", "label": "big", "model": "1"}]).stage_entries()[0]
    assert model_for(own.config, embedded).fingerprint() == resolve_model("1").fingerprint()
    ray_executor._actors_for(embedded)
    kept = dict(ray_executor.actors)
    ray_executor._actors_for(embedded)
    assert all(ray_executor.actors[i] is kept[i] for i in range(2))
    ray_executor._actors_for(model_for(own.config, embedded))
    assert all(ray_executor.actors[i] is not kept[i] for i in range(2))


def test_the_cli_runs_on_ray_and_the_manifest_says_how(tmp_path):
    out, runs = tmp_path / "out", tmp_path / "runs"
    tiny = ("--stages", "instructions,clean", "--set", "stages.instructions.max_tokens=16")
    args = ("--count", "4", "--shard-size", "2", "--run-dir", str(runs), "--output", str(out))
    on_ray = ("--executor", "ray", "--workers", "2")
    command = [sys.executable, "-m", "magpie_hf.cli", "run", "recipes/magpie_math/algebra.yaml", *tiny, *args, *on_ray]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    execution = json.loads((out / "manifest.json").read_text())["execution"]
    assert execution["executor"] == "ray" and execution["workers"] == 2
    assert sum(w["shards"] for w in execution["throughput"]["instructions"].values()) == 2
    assert list(execution["throughput"]["clean"]) == ["driver"]
    assert "instructions: shard" in "".join(p.read_text() for p in (runs / "logs").glob("ray-worker-*.log"))
