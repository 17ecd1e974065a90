"""One executor interface: where a stage's pending shards run.

The runner plans every stage, keeps the progress bar and the report, and
merges finished shards; an executor only runs shards and says when a stage's
shards are all done. Completion is the done marker beside each shard, so any
executor can finish what another started. Stages never see the executor.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

from magpie_hf.core.recipe import StageEntry
from magpie_hf.models.presets import Preset
from magpie_hf.run import storage
from magpie_hf.run.context import RunContext
from magpie_hf.run.plan import ShardPlan, ShardSpec

if TYPE_CHECKING:
    from datasets import Dataset

OnShardDone = Callable[[ShardSpec, dict], None]


class Executor:
    """Runs shards of a plan. Subclasses override `run_shards`; `wait_for` and `close` are optional."""

    name = "base"
    launches_elsewhere = False  # True: the CLI calls `submit` instead of running anything here

    def run_shards(
        self, data: Dataset, plan: ShardPlan, entry: StageEntry, model: Preset, done: OnShardDone, run: RunContext
    ) -> None:
        """Run the pending shards this executor is responsible for, calling `done(shard, stats)` after each.

        Shards run here load their models through the run's context `run`; an
        executor whose workers live in other processes gives each its own.
        """
        raise NotImplementedError

    def submit(self, run_dir: str) -> str:
        """Hand the whole run to a scheduler (executors that launch elsewhere); returns what was submitted."""
        raise NotImplementedError

    def wait_for(self, plan: ShardPlan, progress: Callable[[], None]) -> None:
        """Block until other workers finish the plan's shards, if this executor waits for them (default: no)."""

    def close(self) -> None:
        """Release the workers (and the models they loaded) at the end of a run."""

    def describe(self) -> dict:
        """What the manifest records about how the run was executed."""
        return {"executor": self.name}


def local_folder(run_dir: str) -> Path:
    """Where a run's worker logs (and Slurm scripts) go: the run dir if it is local, else the current directory."""
    return Path(storage.filesystem(run_dir)[1]).absolute() if storage.is_local(run_dir) else Path.cwd()


class ShardFailures(RuntimeError):
    """Shards that failed on every attempt, by index, with their last error."""

    def __init__(self, stage: str, failures: dict[int, str]):
        self.failures = failures
        lines = "; ".join(f"shard {i}: {err}" for i, err in sorted(failures.items()))
        super().__init__(f"stage '{stage}': {len(failures)} shard(s) failed after retries: {lines}")
