"""Slurm: `--executor slurm` submits an array of workers and a merge job after it, through sbatch."""

from __future__ import annotations

import os
import stat

from magpie_hf.cli.main import main
from magpie_hf.run.executors.slurm import SlurmExecutor, worker_argv


def test_worker_commands_drop_the_executor_options():
    argv = ["run", "x.yaml", "--executor", "slurm", "--workers=4", "--gpus-per-worker", "2", "--count", "8"]
    assert worker_argv(argv) == ["run", "x.yaml", "--count", "8"]


def test_scripts_are_an_array_of_ranked_workers_and_a_plain_merge(tmp_path):
    workers, merge = SlurmExecutor(3, 2, ["run", "my recipe.yaml", "--model", "1"]).scripts(tmp_path)
    assert "#SBATCH --array=0-2" in workers and "#SBATCH --gres=gpu:2" in workers
    assert "magpie-hf run 'my recipe.yaml' --model 1 --rank \"$SLURM_ARRAY_TASK_ID\" --world-size 3 --no-wait" in workers
    assert merge.splitlines()[-1] == "magpie-hf run 'my recipe.yaml' --model 1" and "--array" not in merge


def test_cli_submits_both_jobs_through_sbatch(tmp_path, monkeypatch, capsys):
    record = tmp_path / "calls"
    sbatch = tmp_path / "bin" / "sbatch"
    sbatch.parent.mkdir()
    sbatch.write_text(f'#!/bin/sh\necho "$@" >> {record}\necho "$(wc -l < {record} | tr -d \' \')00;cluster"\n')
    sbatch.chmod(sbatch.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{sbatch.parent}{os.pathsep}{os.environ['PATH']}")
    runs = tmp_path / "runs"
    args = ["run", "recipes/magpie_math/algebra.yaml", "--count", "8", "--run-dir", str(runs)]
    assert main([*args, "--executor", "slurm", "--workers", "4"]) == 0
    calls = record.read_text().splitlines()
    assert calls[0] == f"--parsable {runs}/slurm/workers.sbatch"
    assert calls[1] == f"--parsable --dependency=afterany:100 {runs}/slurm/merge.sbatch"
    assert "job 100 and the merge as job 200" in capsys.readouterr().out
    workers = (runs / "slurm" / "workers.sbatch").read_text()
    assert "--count 8 --run-dir" in workers and "--world-size 4 --no-wait" in workers and "--executor" not in workers
    assert not list(runs.glob("instructions-*"))  # nothing ran here
