"""Shards on Ray actors: one engine per actor, the same plan and done markers as a local run.

Actors pull the unfinished shards of a stage's plan as they free up and write
them exactly as the local runner would (Arrow file, then done marker), so a run
started on Ray can be finished locally and the reverse; the runner merges.
Actors are kept across consecutive stages (and recipes) that use the same
model, so each model loads once per actor; a stage with another model replaces
them. Stages without a model run on the driver. Each actor logs to its own file.
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from pathlib import Path

from datasets import Dataset

from magpie_hf.core.recipe import StageEntry
from magpie_hf.models.presets import Preset
from magpie_hf.run.executors.base import Executor, OnShardDone, ShardFailures
from magpie_hf.run.executors.local import LocalExecutor
from magpie_hf.run.plan import ShardPlan
from magpie_hf.run.shard import run_shard
from magpie_hf.stages.sample import sampling_model


class ShardWorker:
    """A Ray actor: builds its engine on its first shard and keeps it; logs to `<run_dir>/logs/ray-worker-<i>.log`."""

    def __init__(self, index: int):
        self.index = index
        self.log_dir: str | None = None

    def run(self, data: Dataset, shard, plan: ShardPlan, entry: StageEntry, model: Preset) -> dict:
        import ray  # noqa: PLC0415 - optional dependency, present in actors

        self._log_to(Path(plan.directory).parent / "logs")
        logging.getLogger(__name__).info("shard %d of %s", shard.index, plan.stage)
        stats = run_shard(data, shard, plan, entry, model)
        return {**stats, "worker": f"{self.index}:{ray.get_runtime_context().get_actor_id()[:8]}", "pid": os.getpid()}

    def _log_to(self, folder: Path) -> None:
        if self.log_dir == str(folder):
            return
        self.log_dir = str(folder)
        folder.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(folder / f"ray-worker-{self.index}.log")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logging.getLogger().addHandler(handler)
        logging.getLogger().setLevel(logging.INFO)


class RayExecutor(Executor):
    """Schedules each stage's pending shards on `workers` actors.

    Args:
        workers: actors (one engine each): one per GPU, per tensor-parallel group, or per CPU slot.
        gpus_per_worker: GPUs each actor reserves (the model's tensor-parallel size).
        address: `auto`, `ray://host:port`, or None to start a local Ray.
        max_retries: Ray restarts a dead actor and retries its shard this many times.
    """

    name = "ray"

    def __init__(self, workers: int = 1, gpus_per_worker: float = 0, address: str | None = None, max_retries: int = 2):
        try:
            import ray  # noqa: PLC0415 - optional dependency
        except ImportError:
            raise RuntimeError("--executor ray needs Ray: pip install 'magpie-hf[ray]'") from None
        if not ray.is_initialized():
            ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
        self.workers, self.gpus, self.max_retries = workers, gpus_per_worker, max_retries
        self.throughput: dict[str, dict[str, dict[str, float]]] = {}
        self.actors: list = []
        self.actor_model: dict | None = None
        self.driver = LocalExecutor()

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

    def _actors_for(self, model: Preset) -> list:
        """The live actors when they hold this model, else new ones (the old ones are killed first)."""
        import ray  # noqa: PLC0415

        if self.actors and self.actor_model == model.fingerprint():
            return self.actors
        self.close()
        actor_class = ray.remote(ShardWorker)
        self.actors = [actor_class.options(**self._actor_options(i)).remote(i) for i in range(self.workers)]
        self.actor_model = model.fingerprint()
        return self.actors

    def run_shards(self, data: Dataset, plan: ShardPlan, entry: StageEntry, model: Preset, done: OnShardDone) -> None:
        """Run the plan's pending shards on the actors. Raises ShardFailures after the stage."""
        import ray  # noqa: PLC0415
        from ray.exceptions import RayError  # noqa: PLC0415

        if not entry.stage.needs_model(entry.config):
            return self.driver.run_shards(data, plan, entry, model, done)
        pending = plan.pending()
        if not pending:
            return None
        actors = self._actors_for(sampling_model(entry.config, model) if entry.stage.name == "sample" else model)
        data_ref = ray.put(data)
        queue, inflight, failures = list(pending), {}, {}
        per_worker: dict[str, dict[str, float]] = defaultdict(lambda: {"shards": 0, "tokens": 0, "seconds": 0.0})
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
            mine = per_worker[stats["worker"]]
            mine["shards"] += 1
            mine["tokens"] += stats["generated_tokens"]
            mine["seconds"] += stats["seconds"]
            mine["pid"] = stats["pid"]
            done(shard, stats)
        self.throughput[entry.name] = {
            worker: {**s, "tokens_per_second": s["tokens"] / s["seconds"] if s["seconds"] else 0.0}
            for worker, s in per_worker.items()
        }
        if failures:
            raise ShardFailures(entry.name, failures)
        return None

    def close(self) -> None:
        """Kill the actors (and with them their engines)."""
        if self.actors:
            import ray  # noqa: PLC0415

            for actor in self.actors:
                ray.kill(actor)
        self.actors, self.actor_model = [], None

    def describe(self) -> dict:
        return {"executor": self.name, "workers": self.workers, "gpus_per_worker": self.gpus, "throughput": self.throughput}
