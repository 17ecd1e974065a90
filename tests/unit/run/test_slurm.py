"""Slurm: `--executor slurm` submits an array of ranked workers and a merge job after it, through sbatch."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from magpie_hf.cli.main import main
from magpie_hf.run.executors.slurm import SlurmExecutor, worker_argv

RECIPE = "recipes/magpie_math/algebra.yaml"


def fake_sbatch(folder: Path, monkeypatch, script: str) -> Path:
    """An `sbatch` first on PATH running `script` (sh), each call's arguments appended to the returned file."""
    calls = folder / "calls"
    sbatch = folder / "bin" / "sbatch"
    sbatch.parent.mkdir()
    sbatch.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n{script}\n')
    sbatch.chmod(sbatch.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{sbatch.parent}{os.pathsep}{os.environ['PATH']}")
    return calls


def test_worker_commands_drop_the_executor_options_in_every_spelling():
    argv = ["run", "x.yaml", "--executor", "slurm", "--workers=4", "--gpus-per", "2", "--count", "8", "--exec=slurm"]
    assert worker_argv(argv) == ["run", "x.yaml", "--count", "8"]


def test_scripts_are_an_array_of_ranked_workers_and_a_plain_merge(tmp_path):
    executor = SlurmExecutor(3, 2, ["run", "my recipe.yaml", "--model", "1"], partition="gpu", time="2:00:00")
    workers, merge = executor.scripts(tmp_path)
    assert "#SBATCH --array=0-2" in workers and "#SBATCH --gres=gpu:2" in workers
    assert f"#SBATCH --output={tmp_path}/logs/%A_%a.log" in workers
    assert workers.splitlines()[-1] == (
        "magpie-hf run 'my recipe.yaml' --model 1 --rank \"$SLURM_ARRAY_TASK_ID\" --world-size 3 --no-wait"
    )
    assert merge.splitlines()[-1] == "magpie-hf run 'my recipe.yaml' --model 1"
    assert "--array" not in merge and "#SBATCH --gres=gpu:2" in merge
    for script in (workers, merge):
        assert script.startswith("#!/bin/bash\n")
        assert "#SBATCH --partition=gpu" in script and "#SBATCH --time=2:00:00" in script
        assert f"#SBATCH --chdir={Path.cwd()}" in script


def test_cpu_workers_ask_for_no_gpu_and_gpus_come_whole():
    workers, merge = SlurmExecutor(2, 0, ["run", "x.yaml"], sbatch_args={"account": "ai"}).scripts(Path("/runs"))
    assert "--gres" not in workers + merge and "#SBATCH --account=ai" in workers
    with pytest.raises(ValueError, match="whole number"):
        SlurmExecutor(2, 0.5, ["run", "x.yaml"])


def test_cli_submits_the_array_then_the_merge_after_it(tmp_path, monkeypatch, capsys):
    calls = fake_sbatch(tmp_path, monkeypatch, 'echo "Submitted batch job 123"')
    runs = tmp_path / "runs"
    args = ["run", RECIPE, "--count", "8", "--run-dir", str(runs)]
    assert main([*args, "--executor", "slurm", "--workers", "4", "--gpus-per-worker", "1"]) == 0
    assert record(calls) == [
        [f"{runs}/slurm/workers.sbatch"],
        ["--dependency=afterany:123", f"{runs}/slurm/merge.sbatch"],
    ]
    out = capsys.readouterr().out
    assert "array job 123" in out and "merge as job 123" in out
    workers = (runs / "slurm" / "workers.sbatch").read_text()
    assert "#SBATCH --array=0-3" in workers and "#SBATCH --gres=gpu:1" in workers
    assert workers.splitlines()[-1] == (
        f'magpie-hf run {RECIPE} --count 8 --run-dir {runs} --rank "$SLURM_ARRAY_TASK_ID" --world-size 4 --no-wait'
    )
    merge = (runs / "slurm" / "merge.sbatch").read_text()
    assert merge.splitlines()[-1] == f"magpie-hf run {RECIPE} --count 8 --run-dir {runs}"
    assert (runs / "logs").is_dir()
    assert not list(runs.glob("instructions-*"))  # nothing ran here


def test_a_refused_submission_is_a_usage_error(tmp_path, monkeypatch, capsys):
    calls = fake_sbatch(tmp_path, monkeypatch, 'echo "sbatch: error: invalid partition specified: gpu" >&2; exit 1')
    args = ["run", RECIPE, "--count", "8", "--run-dir", str(tmp_path / "runs"), "--executor", "slurm"]
    assert main(args) == 2
    assert "invalid partition" in capsys.readouterr().err
    assert len(record(calls)) == 1  # no merge job after a failed array


def record(calls: Path) -> list[list[str]]:
    return [line.split() for line in calls.read_text().splitlines()]
