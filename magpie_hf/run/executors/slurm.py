"""Slurm: `--executor slurm` submits the run from Python, an array job of ranked workers and a merge job after it.

Each array task runs the same `magpie-hf` command as one local worker
(`--rank $SLURM_ARRAY_TASK_ID --world-size W --no-wait`). Tasks need not run
at the same time, so none waits for another: a task stops at the end of the
first stage whose other shards are not done yet. The merge job starts once
every task has ended (`afterany`) and runs the plain command: it reuses every
finished shard, runs whatever is left (a failed task's shards, then the later
stages), and exports. The run dir must be on storage every node sees.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

from magpie_hf.run.executors.base import Executor, local_folder

# Options that choose the executor itself: the submitted commands run locally, one worker each.
EXECUTOR_OPTIONS = ("--executor", "--workers", "--gpus-per-worker", "--address")


def worker_argv(argv: list[str]) -> list[str]:
    """The `magpie-hf` arguments without the executor's own options.

    `--workers 8`, `--workers=8` and argparse's abbreviations (`--exec slurm`)
    alike: a leftover `--executor slurm` would make the merge job submit again.
    """
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if name.startswith("--") and len(name) > 2 and any(o.startswith(name) for o in EXECUTOR_OPTIONS):
            skip = "=" not in arg
            continue
        out.append(arg)
    return out


def batch_script(command: str, options: dict[str, str]) -> str:
    """An sbatch script: `#SBATCH --key=value` for each option, then the command."""
    lines = ["#!/bin/bash", *(f"#SBATCH --{key}={value}" for key, value in options.items())]
    return "\n".join([*lines, "set -euo pipefail", command, ""])


class SlurmExecutor(Executor):
    """Submits the run instead of running it: an array of `workers` tasks, then a merge job.

    Args:
        workers: array tasks, one local worker each.
        gpus_per_worker: GPUs per task (`--gres=gpu:G`; the model's tensor-parallel size).
        argv: the `magpie-hf` arguments of this invocation (`run RECIPE ...`).
        sbatch: the sbatch command.
        partition: `--partition` of both jobs (else sbatch's default, or `SBATCH_PARTITION`).
        time: `--time` limit of both jobs (likewise `SBATCH_TIMELIMIT`).
        sbatch_args: more `#SBATCH` options of both jobs, e.g. `{"account": "ai", "cpus-per-task": 8}`.
    """

    name = "slurm"
    launches_elsewhere = True

    def __init__(
        self,
        workers: int,
        gpus_per_worker: float = 0,
        argv: list[str] | None = None,
        sbatch: str = "sbatch",
        partition: str | None = None,
        time: str | None = None,
        sbatch_args: dict | None = None,
    ):
        if workers < 1:
            raise ValueError("--workers must be at least 1")
        if gpus_per_worker != int(gpus_per_worker):
            raise ValueError("--gpus-per-worker must be a whole number of GPUs on Slurm")
        self.workers, self.gpus, self.sbatch = workers, int(gpus_per_worker), sbatch
        self.argv = worker_argv(argv or [])
        self.options = {k: v for k, v in {"partition": partition, "time": time, **(sbatch_args or {})}.items() if v}
        self.cwd = Path.cwd()  # the tasks start where the command was typed: relative recipe paths still resolve

    def scripts(self, folder: Path) -> tuple[str, str]:
        """The array job's script and the merge job's script; their logs go to `<folder>/logs/`."""
        command = "magpie-hf " + " ".join(shlex.quote(a) for a in self.argv)
        worker = f'{command} --rank "$SLURM_ARRAY_TASK_ID" --world-size {self.workers} --no-wait'
        common = {"chdir": str(self.cwd), **({"gres": f"gpu:{self.gpus}"} if self.gpus else {}), **self.options}
        logs = folder / "logs"
        array = {"job-name": "magpie-hf-workers", "array": f"0-{self.workers - 1}", "output": f"{logs}/%A_%a.log"}
        merge = {"job-name": "magpie-hf-merge", "output": f"{logs}/merge-%j.log"}
        return batch_script(worker, {**array, **common}), batch_script(command, {**merge, **common})

    def submit(self, run_dir: str) -> str:
        """Write the scripts to `<run_dir>/slurm/`, submit the array and the merge after it; returns both job ids."""
        folder = local_folder(run_dir)
        (folder / "slurm").mkdir(parents=True, exist_ok=True)
        (folder / "logs").mkdir(parents=True, exist_ok=True)
        paths = folder / "slurm" / "workers.sbatch", folder / "slurm" / "merge.sbatch"
        for path, text in zip(paths, self.scripts(folder)):
            path.write_text(text)
        array = self._sbatch(paths[0])
        merge = self._sbatch(paths[1], f"--dependency=afterany:{array}")
        return (
            f"submitted {self.workers} worker(s) as Slurm array job {array} and the merge as job {merge} "
            f"(after {array} ends); logs in {folder / 'logs'}"
        )

    def _sbatch(self, script: Path, *options: str) -> str:
        """Submit one script; returns its job id."""
        try:
            proc = subprocess.run([self.sbatch, *options, str(script)], capture_output=True, text=True)
        except FileNotFoundError:
            raise RuntimeError(f"--executor slurm: '{self.sbatch}' not found; submit from a Slurm login node") from None
        found = re.search(r"Submitted batch job (\d+)", proc.stdout)
        if proc.returncode != 0 or found is None:
            raise RuntimeError(f"sbatch {script.name} failed: {(proc.stderr or proc.stdout).strip()[-500:]}")
        return found.group(1)

    def run_shards(self, data, plan, entry, model, done, run) -> None:
        raise RuntimeError("the Slurm executor runs no shard itself: the CLI calls `submit`")

    def describe(self) -> dict:
        return {"executor": self.name, "workers": self.workers, "gpus_per_worker": self.gpus, **self.options}
