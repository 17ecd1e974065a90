"""Executors: where shards run (this process, Ray actors, a Slurm array). See `base.Executor`."""

from __future__ import annotations

from magpie_hf.run.executors.base import Executor


def make_executor(
    name: str,
    rank: int | None = None,
    world_size: int | None = None,
    wait: bool = True,
    workers: int = 1,
    gpus_per_worker: float = 0,
    address: str | None = None,
    argv: list[str] | None = None,
) -> Executor:
    """The executor `--executor NAME` asks for; ValueError on options that do not fit it."""
    if name == "local":
        from magpie_hf.run.executors.local import LocalExecutor  # noqa: PLC0415 - datasets: only to run shards

        return LocalExecutor(rank, world_size, wait)
    if rank is not None:
        raise ValueError(f"--executor {name} schedules every shard itself: drop --rank/--world-size")
    if name == "ray":
        from magpie_hf.run.executors.ray import RayExecutor  # noqa: PLC0415 - ray is an optional extra

        return RayExecutor(workers, gpus_per_worker, address)
    if name == "slurm":
        from magpie_hf.run.executors.slurm import SlurmExecutor  # noqa: PLC0415

        return SlurmExecutor(workers, gpus_per_worker, argv or [])
    raise ValueError(f"--executor: unknown executor '{name}'; allowed: local, ray, slurm")
