"""Shards on Ray actors: one engine per actor, the same plan and done markers as a local run.

Actors pull the unfinished shards of a stage's plan as they free up and write
them exactly as a local run would (Arrow file, then done marker), so a run
started on Ray can be finished locally and the reverse; the runner merges.
Actors start on the first stage that needs a model and are kept across the
following stages (and recipes) that use the same model, so each model loads
once per actor; a stage with another model replaces them. Stages without a
model run on the driver. Each actor writes all its output to
`<run_dir>/logs/ray-worker-<i>.log`.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import datasets
from datasets import Dataset

from magpie_hf.core.recipe import StageEntry
from magpie_hf.models.presets import Preset, model_for
from magpie_hf.run.context import RunContext
from magpie_hf.run.executors.base import Executor, OnShardDone, ShardFailures, local_folder
from magpie_hf.run.executors.local import LocalExecutor
from magpie_hf.run.plan import ShardPlan, ShardSpec
from magpie_hf.run.shard import run_shard


class ShardWorker:
    """A Ray actor: builds its engine on its first shard and keeps it for the next ones (in its own run context).

    Everything its process writes (our logging, vLLM's, C++ output) goes to the
    log file each call names: file descriptors 1 and 2 point there.
    """

    def __init__(self, index: int):
        self.index = index
        self.log: str | None = None
        self.context = RunContext()  # this process's models; they go with the actor
        datasets.disable_progress_bars()
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logging.getLogger().addHandler(handler)
        logging.getLogger().setLevel(logging.INFO)

    def run(self, data: Dataset, shard: ShardSpec, plan: ShardPlan, entry: StageEntry, model: Preset, log: str) -> dict:
        """Run one shard (see `run_shard`); its stats, with this worker's name and process id."""
        self._log_to(log)
        logger = logging.getLogger(__name__)
        logger.info("%s: shard %d", plan.stage, shard.index)
        try:
            stats = run_shard(data, shard, plan, entry, model, self.context)
        except Exception:
            logger.exception("%s: shard %d failed", plan.stage, shard.index)  # the driver gets only the last line
            raise
        return {**stats, "worker": f"ray-worker-{self.index}", "pid": os.getpid()}

    def _log_to(self, path: str) -> None:
        if path == self.log:
            return
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        sys.stdout.flush()
        sys.stderr.flush()
        with open(path, "a") as log:
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
        self.log = path


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
        if workers < 1:
            raise ValueError("--workers must be at least 1")
        # Actors write to their own log files; nothing of theirs on the driver's terminal.
        ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
        self.workers, self.gpus, self.max_retries = workers, gpus_per_worker, max_retries
        self.actors: dict[int, object] = {}  # actor index -> handle
        self.actor_model: dict | None = None  # fingerprint of the model the actors hold
        self.throughput: dict[str, dict[str, dict]] = {}  # stage -> worker -> shards, tokens, seconds, ...
        self.driver = LocalExecutor()

    def run_shards(
        self, data: Dataset, plan: ShardPlan, entry: StageEntry, model: Preset, done: OnShardDone, run: RunContext
    ) -> None:
        """Run the plan's pending shards: on the actors, or on the driver (in `run`) if the stage needs no model.

        Raises:
            ShardFailures: after the stage, for the shards that failed on every retry.
        """
        import ray  # noqa: PLC0415 - optional dependency
        from ray.exceptions import RayActorError, RayError  # noqa: PLC0415

        count = self._counter(entry.name, done)
        if not entry.stage.needs_model(entry.config):
            here = {"worker": "driver", "pid": os.getpid()}
            self.driver.run_shards(data, plan, entry, model, lambda shard, stats: count(shard, {**stats, **here}), run)
            return
        queue = plan.pending()
        if not queue:
            return
        self._actors_for(model_for(entry.config, model))
        logs = local_folder(plan.directory.rsplit("/", 1)[0]) / "logs"
        data_ref = ray.put(data)
        inflight: dict = {}  # object ref -> (actor index, shard)
        failures: dict[int, str] = {}
        while queue or inflight:
            busy = {index for index, _ in inflight.values()}
            for index in [i for i in self.actors if i not in busy][: len(queue)]:
                shard = queue.pop(0)
                log = str(logs / f"ray-worker-{index}.log")
                inflight[self.actors[index].run.remote(data_ref, shard, plan, entry, model, log)] = (index, shard)
            (ref,), _ = ray.wait(list(inflight), num_returns=1)
            index, shard = inflight.pop(ref)
            try:
                count(shard, ray.get(ref))
            except RayActorError as err:  # died on every retry: a fresh actor takes its place
                failures[shard.index] = last_line(err)
                ray.kill(self.actors[index])
                self.actors[index] = self._start(index)
            except RayError as err:  # the stage raised: retrying would raise again
                failures[shard.index] = last_line(err)
        if failures:
            raise ShardFailures(entry.name, failures)

    def _counter(self, stage: str, done: OnShardDone) -> OnShardDone:
        """`done`, also adding each shard to its worker's shards, tokens, seconds and engine loads for the stage."""
        workers: dict[str, dict] = {}
        self.throughput[stage] = workers

        def count(shard: ShardSpec, stats: dict) -> None:
            mine = workers.setdefault(stats["worker"], {"shards": 0, "tokens": 0, "seconds": 0.0, "engine_loads": 0})
            mine["shards"] += 1
            mine["tokens"] += stats["generated_tokens"]
            mine["seconds"] += stats["seconds"]
            mine["engine_loads"] += stats["load_seconds"] > 0  # load time is only spent building an engine
            mine["tokens_per_second"] = mine["tokens"] / mine["seconds"] if mine["seconds"] else 0.0
            mine["pid"] = stats["pid"]
            done(shard, stats)

        return count

    def _actors_for(self, model: Preset) -> None:
        """Make `self.actors` the `workers` actors for this model: the live ones if they hold it, else new ones."""
        if self.actor_model != model.fingerprint():
            self.close()
            self.actor_model = model.fingerprint()
        for index in range(self.workers):
            if index not in self.actors:
                self.actors[index] = self._start(index)

    def _start(self, index: int):
        """A new actor; on CPU its OpenMP threads get a core of their own."""
        import ray  # noqa: PLC0415 - optional dependency

        env = {"VLLM_ENABLE_V1_MULTIPROCESSING": "0"}
        if not self.gpus:
            env["VLLM_CPU_OMP_THREADS_BIND"] = str(index % (os.cpu_count() or 1))
        options = {
            "num_cpus": 1,
            "num_gpus": self.gpus,
            "max_restarts": self.max_retries,
            "max_task_retries": self.max_retries,
            "runtime_env": {"env_vars": env},
        }
        return ray.remote(ShardWorker).options(**options).remote(index)

    def close(self) -> None:
        """Kill the actors (and with them their engines)."""
        import ray  # noqa: PLC0415 - optional dependency

        for actor in self.actors.values():
            ray.kill(actor)
        self.actors, self.actor_model = {}, None

    def describe(self) -> dict:
        return {
            "executor": self.name,
            "workers": self.workers,
            "gpus_per_worker": self.gpus,
            "throughput": self.throughput,
        }


def last_line(err: Exception) -> str:
    """The last line of a Ray error (the original exception), short enough for a report."""
    return str(err).strip().splitlines()[-1][:300]
