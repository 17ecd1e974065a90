"""The Ray executor on a local 2-CPU cluster: same rows as the local runner, and a killed worker is survived."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from magpie_hf.core.recipe import Recipe
from magpie_hf.run.runner import run_stages, source_rows

pytestmark = pytest.mark.e2e
ray = pytest.importorskip("ray")


def recipe() -> Recipe:
    stage = {
        "stage": "instructions",
        "system_prompt": "You write short algebra problems.",
        "max_tokens": 24,
        "temperature": 0.8,
    }
    return Recipe(name="ray", domain="algebra", count=8, seed=5, shard_size=2, stages=[stage])


def run(run_dir: Path, model, executor=None):
    r = recipe()
    data, fp = source_rows(r.domain, 8)
    return run_stages(data, fp, r.stage_entries(), model, run_dir, r.shard_size, executor=executor)


@pytest.fixture(scope="module")
def ray_executor():
    from magpie_hf.run.executors.ray import RayExecutor

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    executor = RayExecutor(workers=2)
    yield executor
    executor.close()
    ray.shutdown()


def test_ray_gives_the_rows_of_the_local_runner(tmp_path, embedded, vllm_engine, ray_executor):
    local = run(tmp_path / "local", embedded).datasets["instructions"]
    on_ray = run(tmp_path / "ray", embedded, ray_executor)
    assert on_ray.reports[0].shards_run == 4
    assert on_ray.datasets["instructions"]["id"] == local["id"]
    assert on_ray.datasets["instructions"]["problem"] == local["problem"]
    workers = ray_executor.throughput["instructions"]
    assert 1 <= len(workers) <= 2 and sum(w["shards"] for w in workers.values()) == 4
    assert all(w["tokens_per_second"] > 0 for w in workers.values())


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
    assert done_at_kill and done_at_kill[0] < 4  # killed while shards were still running
    ids = result.datasets["instructions"]["id"]
    assert ids == [f"algebra-{i:06d}" for i in range(8)]
    assert len(list(run_dir.glob("instructions-*/shard-*.done"))) == 4


def test_a_shard_that_keeps_failing_is_reported_and_the_others_are_kept(tmp_path, embedded, ray_executor):
    from magpie_hf.core.recipe import StageEntry
    from magpie_hf.core.stage import Stage, StageConfig
    from magpie_hf.run.executors.base import ShardFailures
    from magpie_hf.run.plan import plan_stage

    def flaky(batch, cfg, model):
        if "algebra-000003" in batch["id"]:
            raise ValueError("this shard always fails")
        return {"seen": [True] * len(batch["id"])}

    stage = Stage(name="flaky", fn=flaky, config=StageConfig, version="1", inputs=("id",), outputs=("seen",))
    entry = StageEntry(stage=stage, config=StageConfig())
    data, fp = source_rows("algebra", 4)
    plan = plan_stage(entry, fp, len(data), embedded, str(tmp_path), 2)
    with pytest.raises(ShardFailures, match="shard 1: .*this shard always fails") as err:
        ray_executor.run_shards(data, plan, entry, embedded, lambda shard, stats: None)
    assert set(err.value.failures) == {1}
    assert [s.index for s in plan.pending()] == [1]  # shard 0 stays done for the rerun


def test_actors_keep_their_engine_across_stages_and_model_free_stages_run_on_the_driver(tmp_path, embedded, ray_executor):
    import json
    import os

    from magpie_hf.core.recipe import StageEntry
    from magpie_hf.core.stage import Stage, StageConfig
    stages = [
        {"stage": "instructions", "system_prompt": "You write short algebra problems.", "max_tokens": 12},
        {"stage": "sample", "label": "response", "max_tokens": 12},
    ]
    r = Recipe(name="two", domain="algebra", count=4, seed=5, shard_size=2, stages=stages)

    def where(batch, cfg, model):
        return {"pid": [os.getpid()] * len(batch["id"])}

    here = Stage(name="where", fn=where, config=StageConfig, version="1", inputs=("id",), outputs=("pid",), uses_model=False)
    entries = [*r.stage_entries(), StageEntry(stage=here, config=StageConfig())]
    data, fp = source_rows(r.domain, 4)
    ray_executor.close()  # fresh actors: every engine load below is counted
    result = run_stages(data, fp, entries, embedded, tmp_path, r.shard_size, executor=ray_executor)
    loads = [json.loads(p.read_text())["load_seconds"] for p in tmp_path.glob("*/shard-*.done")]
    assert len(loads) == 6 and sum(seconds > 0 for seconds in loads) <= 2  # one engine per actor, for both stages
    pids = {w["pid"] for stage in ("instructions", "response") for w in ray_executor.throughput[stage].values()}
    assert len(pids) <= 2
    assert set(result.datasets["where"]["pid"]) == {os.getpid()}
