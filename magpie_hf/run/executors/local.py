"""Shards in this process, one after another; with `rank`/`world_size`, only this worker's share.

Workers started together (one per GPU, or Slurm array tasks) take shards
`index % world_size == rank` of the same plan. With `wait=True` a worker waits
at the end of each stage for the others' shards and goes on; without it, it
stops there and a later run without `rank` merges.
"""

from __future__ import annotations

import time
from typing import Callable

from datasets import Dataset

from magpie_hf.core.messages import t
from magpie_hf.core.recipe import Recipe, RecipeError, StageEntry, load_recipes
from magpie_hf.models.presets import Preset, resolve_model
from magpie_hf.run.context import RunContext
from magpie_hf.run.executors.base import Executor, OnShardDone
from magpie_hf.run.plan import ShardPlan
from magpie_hf.run.shard import run_shard

WAIT_SECONDS = 5.0


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
        shards = plan.pending() if self.rank is None else plan.for_rank(self.rank, self.world_size)
        for shard in shards:
            done(shard, run_shard(data, shard, plan, entry, model, run))

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
