"""Run the model stages' shards on Ray actors: one engine per actor, the same plan and done markers.

Actors pull the unfinished shards of a stage's plan as they free up and write
them exactly as the local runner would (Arrow file, then done marker), so a run
started on Ray can be finished locally and the reverse. The local runner then
merges. Stages without a model run on the driver.
"""

from __future__ import annotations

import os
from collections import defaultdict

from datasets import Dataset
from tqdm.auto import tqdm

from magpie_hf.models.presets import Preset
from magpie_hf.core.recipe import StageEntry
from magpie_hf.run.plan import ShardPlan, ShardSpec
from magpie_hf.run.shard import run_shard


class ShardFailures(RuntimeError):
    """Shards that failed on every attempt, by index, with their last error."""

    def __init__(self, stage: str, failures: dict[int, str]):
        self.failures = failures
        lines = "; ".join(f"shard {i}: {err}" for i, err in sorted(failures.items()))
        super().__init__(f"stage '{stage}': {len(failures)} shard(s) failed after retries: {lines}")


class ShardWorker:
    """A Ray actor holding one engine (built lazily on its first shard)."""

    def run(self, data: Dataset, shard: ShardSpec, plan: ShardPlan, entry: StageEntry, model: Preset) -> dict:
        import ray

        stats = run_shard(data, shard, plan, entry, model)
        return {**stats, "worker": ray.get_runtime_context().get_actor_id()[:12], "shard": shard.index}


class RayExecutor:
    """Schedules a plan's pending shards on `workers` actors.

    Args:
        workers: actors (one engine each): one per GPU, per tensor-parallel group, or per CPU slot.
        gpus_per_worker: GPUs each actor reserves (the preset's tensor_parallel_size for large models).
        address: `auto`, `ray://host:port`, or None to start a local Ray.
        max_retries: Ray restarts a dead actor and retries its shard this many times.
    """

    def __init__(self, workers: int = 1, gpus_per_worker: float = 0, address: str | None = None, max_retries: int = 2):
        try:
            import ray
        except ImportError:
            raise RuntimeError("--executor ray needs Ray: pip install 'magpie-hf[ray]'") from None
        if not ray.is_initialized():
            ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
        self.workers, self.gpus, self.max_retries = workers, gpus_per_worker, max_retries
        self.throughput: dict[str, dict[str, dict[str, float]]] = {}
        self.actors: list = []

    def _actor_options(self, index: int) -> dict:
        env = {"VLLM_ENABLE_V1_MULTIPROCESSING": "0"}
        if not self.gpus:  # CPU slots: each actor's OpenMP threads on a core of their own
            env["VLLM_CPU_OMP_THREADS_BIND"] = str(index % (os.cpu_count() or 1))
        return {
            "num_cpus": 1,
            "num_gpus": self.gpus,
            "max_restarts": self.max_retries,
            "max_task_retries": self.max_retries,
            "runtime_env": {"env_vars": env},
        }

    def __call__(self, data: Dataset, plan: ShardPlan, entry: StageEntry, model: Preset) -> set[int]:
        """Run the plan's pending shards; returns the indices done here. Raises ShardFailures."""
        import ray
        from ray.exceptions import RayError

        pending = plan.pending()
        if not pending or not entry.stage.uses_model:
            return set()
        actor_class = ray.remote(ShardWorker)
        actors = [
            actor_class.options(**self._actor_options(i)).remote() for i in range(min(self.workers, len(pending)))
        ]
        self.actors = actors  # the live actors of the stage in progress
        data_ref = ray.put(data)
        queue, inflight, done, failures = list(pending), {}, set(), {}
        per_worker: dict[str, dict[str, float]] = defaultdict(lambda: {"shards": 0, "tokens": 0, "seconds": 0.0})
        with tqdm(
            total=len(plan.shards), initial=len(plan.shards) - len(pending), desc=f"{entry.name} (ray)", unit="shard"
        ) as bar:
            while queue or inflight:
                busy = {id(a) for a, _ in inflight.values()}
                for actor in [a for a in actors if id(a) not in busy]:
                    if queue:
                        shard = queue.pop(0)
                        inflight[actor.run.remote(data_ref, shard, plan, entry, model)] = (actor, shard)
                ready, _ = ray.wait(list(inflight), num_returns=1)
                _, shard = inflight.pop(ready[0])
                try:
                    stats = ray.get(ready[0])
                except RayError as err:  # Ray already restarted the actor and retried the shard
                    failures[shard.index] = str(err).strip().splitlines()[-1][:300]
                    continue
                done.add(shard.index)
                mine = per_worker[stats["worker"]]
                mine["shards"] += 1
                mine["tokens"] += stats["generated_tokens"]
                mine["seconds"] += stats["seconds"]
                bar.update(1)
        for actor in actors:
            ray.kill(actor)
        self.throughput[entry.name] = {
            worker: {**s, "tokens_per_second": s["tokens"] / s["seconds"] if s["seconds"] else 0.0}
            for worker, s in per_worker.items()
        }
        if failures:
            raise ShardFailures(entry.name, failures)
        return done
