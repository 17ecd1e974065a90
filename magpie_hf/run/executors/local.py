"""Shards in this process, one after another; with `rank`/`world_size`, only this worker's share.

Workers started together (one per GPU, or Slurm array tasks) take shards
`index % world_size == rank` of the same plan. With `wait=True` a worker waits
at the end of each stage for the others' shards and goes on; without it, it
stops there and a later run without `rank` merges.
"""

from __future__ import annotations

import math
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Callable

from datasets import Dataset

from magpie_hf.core.messages import t
from magpie_hf.core.recipe import Recipe, RecipeError, StageEntry, load_recipes
from magpie_hf.engines import Usage
from magpie_hf.models.presets import Preset, complete, model_for, resolve_model, tokenizer
from magpie_hf.run.context import RunContext
from magpie_hf.run.executors.base import Executor, OnShardDone
from magpie_hf.run.plan import ShardPlan, ShardSpec
from magpie_hf.run.shard import commit_shard, is_main_process, map_shard, run_shard

WAIT_SECONDS = 5.0
# Rows in flight per request an engine runs at once: while a few slow requests end one shard,
# the other shards' rows keep every slot busy (a request may take 10x the mean).
ROWS_PER_SLOT = 16


def shards_in_flight(entry: StageEntry, model: Preset, shards: list[ShardSpec], run: RunContext, usage: Usage) -> int:
    """How many of the stage's pending `shards` to map at once (its engine loads here, counted in `usage`).

    An engine that batches concurrent calls (it has a `capacity`: requests run
    at once) gets `ROWS_PER_SLOT` rows per request slot, in whole shards (at
    least 2), so it never drains at a shard boundary. The last pending shard
    always waits for another to finish: a SIGKILL never takes a whole stage's
    work, even when every row fits in the engine at once. Any other stage, or a
    non-main process, maps one shard at a time.
    """
    if len(shards) < 3 or not entry.stage.needs_model(entry.config) or not is_main_process():
        return 1
    preset = complete(model_for(entry.config, model))
    capacity = getattr(run.engine(preset, usage), "capacity", 0)
    if not capacity:
        return 1
    tokenizer(preset)  # loaded once here, not raced for by the shards' threads
    rows = shards[0].stop - shards[0].start
    return min(max(2, math.ceil(ROWS_PER_SLOT * capacity / max(rows, 1))), len(shards) - 1)


def stream(
    shards: list[ShardSpec],
    window: int,
    map_one: Callable[[ShardSpec], tuple[str, dict]],
    commit: Callable[[ShardSpec, str, dict], None],
) -> None:
    """Map up to `window` shards at once, each in a thread, and commit them in shard order.

    A shard starts as soon as any other finishes mapping, so one slow request
    at the end of a shard does not hold the next ones back; at most
    `2 * window` shards are mapped but not committed (what a SIGKILL loses).
    When a shard fails, no new one starts, the shards before it still commit,
    and its error is raised: no later shard commits.
    """
    waiting = deque(shards)
    started: deque[tuple[ShardSpec, Future]] = deque()  # in shard order, not committed yet
    with ThreadPoolExecutor(max_workers=window, thread_name_prefix="shard") as pool:
        while waiting or started:
            failed = any(f.done() and f.exception() is not None for _, f in started)
            while waiting and not failed and len(started) < 2 * window and _running(started) < window:
                shard = waiting.popleft()
                started.append((shard, pool.submit(map_one, shard)))
            if not started[0][1].done():
                wait([f for _, f in started if not f.done()], return_when=FIRST_COMPLETED)
            while started and started[0][1].done():
                shard, mapped = started.popleft()
                commit(shard, *mapped.result())  # a failed shard raises here


def _running(started: deque[tuple[ShardSpec, Future]]) -> int:
    return sum(not f.done() for _, f in started)


class LocalExecutor(Executor):
    """Runs shards in-process.

    Args:
        rank: this worker's index, or None for every pending shard.
        world_size: the number of workers sharing the plan.
        wait: wait for the other workers' shards at the end of each stage.
    """

    name = "local"

    def __init__(self, rank: int | None = None, world_size: int | None = None, wait: bool = False):
        if (rank is None) != (world_size is None):
            raise ValueError("--rank and --world-size go together")
        if world_size is not None and not 0 <= rank < world_size:
            raise ValueError(f"--rank must be in 0..{world_size - 1}")
        self.rank, self.world_size, self.wait = rank, world_size, wait

    def run_shards(
        self, data: Dataset, plan: ShardPlan, entry: StageEntry, model: Preset, done: OnShardDone, run: RunContext
    ) -> None:
        """This worker's pending shards, in order; streamed when the stage's engine takes concurrent calls.

        Streaming (`stream`) keeps `shards_in_flight` shards mapping at once,
        each in a thread of its own: the next shards' requests reach the engine
        while the current one's last requests finish. Shards still commit one
        by one, in order, each with its Arrow file then its done marker; a
        failing shard stops the stage, and no later shard commits.
        """
        shards = plan.pending() if self.rank is None else plan.for_rank(self.rank, self.world_size)
        if not shards:
            return
        loading = Usage()  # the first shard counts the engine's load, as it would have loaded it
        usages = {shards[0].index: loading}
        window = shards_in_flight(entry, model, shards, run, loading)
        if window == 1:
            for shard in shards:
                done(shard, run_shard(data, shard, plan, entry, model, run, usages.get(shard.index)))
            return

        def map_one(shard: ShardSpec) -> tuple[str, dict]:
            return map_shard(data, shard, plan, entry, model, run, usages.get(shard.index))

        def commit(shard: ShardSpec, staged: str, stats: dict) -> None:
            commit_shard(shard, staged, stats)
            done(shard, stats)

        stream(shards, window, map_one, commit)

    def wait_for(self, plan: ShardPlan, progress: Callable[[], None]) -> None:
        while self.wait and self.rank is not None and plan.pending():
            time.sleep(WAIT_SECONDS)
            progress()

    def describe(self) -> dict:
        return {"executor": self.name, "rank": self.rank, "world_size": self.world_size}


def worker_layout(recipe: Recipe, gpus: int) -> tuple[int, int]:
    """(workers, GPUs per worker) on `gpus` GPUs: a worker gets as many GPUs as the largest
    tensor-parallel size among the recipe's models."""
    if gpus < 1:
        raise RecipeError("--gpus must be at least 1")
    models = {
        getattr(e.config, "model", None) or recipe.model
        for e in recipe.stage_entries()
        if e.stage.needs_model(e.config)
    }
    settings = recipe.preset().run_settings()
    per_worker = max(resolve_model(m, **settings).settings()["tensor_parallel_size"] for m in models or {recipe.model})
    if gpus < per_worker:
        raise RecipeError(f"--gpus {gpus}: the recipe's models need {per_worker} GPUs per worker (tensor parallel)")
    return gpus // per_worker, per_worker


def first_stage_shards(recipe: Recipe) -> int:
    """How many shards the recipe's first stage cuts its input (generated rows, or its source's) into."""
    from magpie_hf.run.job import input_rows  # noqa: PLC0415 - job imports the executors

    rows = len(input_rows(recipe, None)[0])
    size = recipe.shard_size if recipe.stage_entries()[0].stage.sharded else max(rows, 1)
    return len(range(0, rows, size))


def shard_summary(recipe_path: str, gpus: int, model: str | None = None) -> str:
    """A shell comment: the first stage's shards over every recipe the file stands for, and how many each worker takes
    (worker `rank` takes the shards `index % workers == rank` of each recipe)."""
    recipes = load_recipes(recipe_path, model=model)[0]
    world, _ = worker_layout(recipes[0], gpus)
    shards = [first_stage_shards(recipe) for recipe in recipes]
    per_worker = [sum(len(range(rank, n, world)) for n in shards) for rank in range(world)]
    return t("workers_shards", shards=sum(shards), per_worker=", ".join(map(str, per_worker)))


def worker_commands(recipe_path: str, gpus: int, model: str | None = None) -> str:
    """Shell lines that run one local worker per GPU group on disjoint shards, then the merge.

    Each worker starts in the background with its own log, so no two share a GPU (`worker_layout`).
    """
    world, per_worker = worker_layout(load_recipes(recipe_path, model=model)[0][0], gpus)
    extra = f" --model {model}" if model else ""
    lines = ["mkdir -p logs"]
    for rank in range(world):
        devices = ",".join(str(rank * per_worker + g) for g in range(per_worker))
        lines.append(
            f"CUDA_VISIBLE_DEVICES={devices} magpie-hf run {recipe_path}{extra} --rank {rank} --world-size {world}"
            f" > logs/worker-{rank}.log 2>&1 &"
        )
    lines += ["wait", f"magpie-hf run {recipe_path}{extra}   # merge: reuses every finished shard"]
    return "\n".join(lines)
