"""Slurm: the run is submitted from Python as an array job of workers and a merge job that depends on it.

Each array task runs the same `magpie-hf run ...` as one local worker
(`--rank $SLURM_ARRAY_TASK_ID --world-size W --no-wait`: tasks need not run at
the same time); the merge job starts when every task has ended, reuses every
finished shard, runs what a failed task left, and exports. The run dir must be
on storage every node sees.
"""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

from magpie_hf.run.executors.base import Executor

# Options that choose the executor itself: the submitted commands run locally, one worker each.
EXECUTOR_OPTIONS = {"--executor": 1, "--workers": 1, "--gpus-per-worker": 1, "--address": 1}


def worker_argv(argv: list[str]) -> list[str]:
    """The `magpie-hf` arguments without the executor's own options (`--workers 8` and `--workers=8` alike)."""
    out, skip = [], 0
    for arg in argv:
        if skip:
            skip -= 1
            continue
        name = arg.split("=", 1)[0]
        if name in EXECUTOR_OPTIONS:
            skip = 0 if "=" in arg else EXECUTOR_OPTIONS[name]
            continue
        out.append(arg)
    return out


def batch_script(name: str, command: str, logs: Path, gpus: float, array: int | None = None) -> str:
    """An sbatch script: one command, its log, GPUs per task, and an array of `array` tasks if given."""
    lines = ["#!/bin/bash", f"#SBATCH --job-name={name}"]
    if array is not None:
        lines += [f"#SBATCH --array=0-{array - 1}", f"#SBATCH --output={logs}/%x-%A_%a.log"]
    else:
        lines.append(f"#SBATCH --output={logs}/%x-%j.log")
    if gpus:
        lines.append(f"#SBATCH --gres=gpu:{int(gpus)}")
    return "\n".join([*lines, "set -euo pipefail", command, ""])


class SlurmExecutor(Executor):
    """Submits the run instead of running it: an array of `workers` tasks, then a merge job.

    Args:
        workers: array tasks, one worker each.
        gpus_per_worker: GPUs per task (the model's tensor-parallel size).
        argv: the `magpie-hf` arguments of this invocation (`run RECIPE ...`).
        sbatch: the sbatch command.
    """

    name = "slurm"
    launches_elsewhere = True

    def __init__(self, workers: int, gpus_per_worker: float, argv: list[str], sbatch: str = "sbatch"):
        if workers < 1:
            raise ValueError("--workers must be at least 1")
        self.workers, self.gpus, self.argv, self.sbatch = workers, gpus_per_worker, worker_argv(argv), sbatch

    def scripts(self, logs: Path) -> tuple[str, str]:
        """The array job's script and the merge job's script."""
        base = "magpie-hf " + " ".join(shlex.quote(a) for a in self.argv)
        worker = f'{base} --rank "$SLURM_ARRAY_TASK_ID" --world-size {self.workers} --no-wait'
        return (
            batch_script("magpie-hf-workers", worker, logs, self.gpus, array=self.workers),
            batch_script("magpie-hf-merge", base, logs, self.gpus),
        )

    def submit(self, run_dir: str) -> str:
        """Write the scripts under `<run_dir>/slurm/`, submit both jobs, and say which they are."""
        folder = Path(run_dir) / "slurm"
        logs = Path(run_dir) / "logs"
        folder.mkdir(parents=True, exist_ok=True)
        logs.mkdir(parents=True, exist_ok=True)
        workers, merge = self.scripts(logs)
        (folder / "workers.sbatch").write_text(workers)
        (folder / "merge.sbatch").write_text(merge)
        array_id = self._sbatch(folder / "workers.sbatch")
        merge_id = self._sbatch(folder / "merge.sbatch", f"--dependency=afterany:{array_id}")
        return f"submitted {self.workers} workers as job {array_id} and the merge as job {merge_id} (after {array_id})"

    def _sbatch(self, script: Path, *options: str) -> str:
        try:
            proc = subprocess.run([self.sbatch, "--parsable", *options, str(script)], capture_output=True, text=True)
        except FileNotFoundError:
            raise RuntimeError(f"--executor slurm: '{self.sbatch}' not found; run on a Slurm login node") from None
        if proc.returncode != 0:
            raise RuntimeError(f"sbatch failed: {(proc.stderr or proc.stdout).strip().splitlines()[-1:]}")
        return proc.stdout.strip().split(";")[0]

    def run_shards(self, data, plan, entry, model, done) -> None:
        raise RuntimeError("the Slurm executor submits jobs (see submit); it runs no shard itself")

    def describe(self) -> dict:
        return {"executor": self.name, "workers": self.workers, "gpus_per_worker": self.gpus}
