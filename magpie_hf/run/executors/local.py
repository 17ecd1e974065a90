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

from magpie_hf.core.recipe import RecipeError, StageEntry, load_recipes
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


def worker_commands(recipe_path: str, gpus: int, model: str | None = None) -> str:
    """Shell lines that run one local worker per GPU group on disjoint shards, then the merge.

    A worker gets as many GPUs as the largest tensor-parallel size among the
    recipe's models; each starts in the background with its own log, so no
    two share a GPU.
    """
    if gpus < 1:
        raise RecipeError("--gpus must be at least 1")
    recipe = load_recipes(recipe_path, model=model)[0][0]
    models = {
        getattr(e.config, "model", None) or recipe.model
        for e in recipe.stage_entries()
        if e.stage.needs_model(e.config)
    }
    settings = recipe.preset().run_settings()
    per_worker = max(resolve_model(m, **settings).settings()["tensor_parallel_size"] for m in models or {recipe.model})
    world = gpus // per_worker
    if world < 1:
        raise RecipeError(f"--gpus {gpus}: the recipe's models need {per_worker} GPUs per worker (tensor parallel)")
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
