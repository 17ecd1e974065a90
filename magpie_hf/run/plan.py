"""Shard plans: a stage's input cut into shards, each with its output file and done marker.

A plan is plain data, so any executor (local ranks, Ray actors, Slurm array
tasks) hands the same shards out; completion markers decide what is left.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from magpie_hf.core.fingerprint import fingerprint
from magpie_hf.core.recipe import StageEntry
from magpie_hf.models.presets import Preset
from magpie_hf.run import storage


@dataclass(frozen=True)
class ShardSpec:
    """Rows [start, stop) of a stage's input, and where their output goes."""

    index: int
    start: int
    stop: int
    path: str
    done: str


@dataclass(frozen=True)
class ShardPlan:
    """All shards of one stage."""

    stage: str
    fingerprint: str
    directory: str
    shards: tuple[ShardSpec, ...]

    def pending(self) -> list[ShardSpec]:
        return [s for s in self.shards if not storage.exists(s.done)]

    def for_rank(self, rank: int, world_size: int) -> list[ShardSpec]:
        """The pending shards of worker `rank` of `world_size` (`index % world_size == rank`)."""
        return [s for s in self.pending() if s.index % world_size == rank]

    def to_dict(self) -> dict:
        return asdict(self)


def source_fingerprint(prefix: str, count: int) -> str:
    """The fingerprint of a generating recipe's `count` empty rows, the input of its first stage."""
    return fingerprint({"source": prefix, "rows": count})


def kept_rows(stats: dict, entry: StageEntry) -> int:
    """Rows a finished shard passes on (from its done marker): its output less the rows it dropped."""
    return stats["rows_out"] - (sum(stats["dropped"].values()) if entry.stage.drops_rows(entry.config) else 0)


def stage_fingerprint(input_fingerprint: str, entry: StageEntry, model: Preset) -> str:
    """Hash of the input, the resolved config, the model and the stage's code version."""
    return fingerprint(
        {
            "input": input_fingerprint,
            "stage": entry.stage.name,
            "version": entry.stage.version,
            "config": entry.config.model_dump(mode="json"),
            "model": model.fingerprint() if entry.stage.needs_model(entry.config) else None,
        }
    )


def plan_stage(
    entry: StageEntry, input_fingerprint: str, num_rows: int, model: Preset, run_dir: str | Path, shard_size: int
) -> ShardPlan:
    """Cut a stage's input into shards of `shard_size` rows (one shard if the stage must see every row)."""
    fp = stage_fingerprint(input_fingerprint, entry, model)
    directory = storage.join(str(run_dir), f"{entry.name}-{fp}")
    size = shard_size if entry.stage.sharded else max(num_rows, 1)
    shards = tuple(
        ShardSpec(
            index=i,
            start=start,
            stop=min(start + size, num_rows),
            path=storage.join(directory, f"shard-{i:05d}.arrow"),
            done=storage.join(directory, f"shard-{i:05d}.done"),
        )
        for i, start in enumerate(range(0, num_rows, size))
    )
    return ShardPlan(stage=entry.name, fingerprint=fp, directory=directory, shards=shards)
