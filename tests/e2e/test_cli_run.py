"""The CLI as a user runs it: a real run, a rerun that reuses everything, a SIGKILL and a quiet resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from datasets import concatenate_datasets, load_dataset

pytestmark = pytest.mark.e2e

RECIPE = "recipes/magpie_math/algebra.yaml"
# Lines a default run's terminal must not show: library logs and warnings, or an unclean exit.
NOISE = ("WARNING", "Warning", "Traceback", "exited unexpectedly", "ERROR", "Triton", "[shutdown]")


def cli(*args: str) -> list[str]:
    tiny = ("--stages", "instructions", "--set", "stages.instructions.max_tokens=24")
    return [sys.executable, "-m", "magpie_hf.cli", "run", RECIPE, *tiny, *args]


def instructions(out: Path):
    """Every exported instruction, train and test splits together, by id."""
    splits = load_dataset(str(out), "instructions")
    return concatenate_datasets(list(splits.values())).sort("id")


def run_ok(*args: str) -> tuple[str, float]:
    start = time.perf_counter()
    proc = subprocess.run(cli(*args), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout, time.perf_counter() - start


def test_run_then_rerun_reuses_every_shard(tmp_path):
    args = ("--count", "16", "--output", str(tmp_path / "out"), "--run-dir", str(tmp_path / "runs"))
    first, _ = run_ok(*args, "--shard-size", "8")
    data = instructions(tmp_path / "out")
    assert len(data) == 16 and len(set(data["id"])) == 16
    assert all(text.strip() for text in data["problem"])
    assert "instructions" in first and "wrote" in first
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    first_stage = manifest["stages"][0]
    assert first_stage["rows_out"] == 16 and first_stage["generated_tokens"] > 0
    written = (tmp_path / "out" / "manifest.json").read_bytes()
    second, _ = run_ok(*args, "--shard-size", "8")
    assert "0/2" in second and "wrote" in second  # shards run/reused; the export it leaves as it is
    assert (tmp_path / "out" / "manifest.json").read_bytes() == written  # nothing changed: nothing re-exported
    assert instructions(tmp_path / "out")["problem"] == data["problem"]


def test_numeric_math_form_runs_two_domains_end_to_end(tmp_path):
    """`magpie-hf math 0 1 3 1,2`: embedded model, algebra + calculus, every stage, merged export."""
    tiny = [
        "--set",
        "stages.instructions.max_tokens=64",
        "--set",
        "stages.response.max_tokens=48",
        "--set",
        "stages.candidates.max_tokens=32",
        "--set",
        "stages.candidates.n=3",
    ]
    args = [
        "math",
        "0",
        "1",
        "3",
        "1,2",
        "--count",
        "6",
        "--run-dir",
        str(tmp_path / "runs"),
        "--output",
        str(tmp_path / "all"),
    ]
    proc = subprocess.run(
        [sys.executable, "-m", "magpie_hf.cli", *args, *tiny], capture_output=True, text=True, timeout=900, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "== domain algebra ==" in proc.stdout and "== domain calculus ==" in proc.stdout
    merged = tmp_path / "all"
    ids = instructions(merged)["id"]
    assert len(ids) == 12 and len(set(ids)) == 12
    preference = load_dataset(str(merged), "preference", split="train")
    assert set(preference["domain"]) <= {"algebra", "calculus"}
    for row in preference:
        assert row["chosen"][0]["role"] == "assistant" and row["prompt"][0]["role"] == "user"
        assert row["chosen"][0]["content"] != row["rejected"][0]["content"]
        assert row["score_chosen"] > row["score_rejected"]
        assert len(row["candidates"]) == len(row["candidate_scores"]) == 3
    manifest = json.loads((merged / "manifest.json").read_text())
    assert manifest["domains"] == ["algebra", "calculus"]
    card = (merged / "README.md").read_text()
    configs = yaml.safe_load(card.split("---")[1])["configs"]
    for config in configs:  # every config the card lists loads, with the rows the export reported
        kind, _, domain = config["config_name"].partition("_")
        counts = manifest["exports"][kind]
        expected = sum(sum(s.values()) for d, s in counts.items() if not domain or d == domain)
        loaded = load_dataset(str(merged), config["config_name"])
        assert sum(len(split) for split in loaded.values()) == expected
    assert (tmp_path / "all_algebra" / "README.md").exists()  # each domain beside the merged export


def screen(text: str) -> list[str]:
    """The lines a terminal shows: each line as its last carriage-return redraw leaves it."""
    return [line.split("\r")[-1] for line in text.splitlines() if line.split("\r")[-1].strip()]


def test_a_sigkilled_driver_takes_its_engine_and_a_quiet_resume_loses_nothing(tmp_path, wait_for_first_shard):
    """The CLI as a user runs it, with vLLM's default multiprocessing: kill -9 of the driver alone mid-generation
    (as the OOM killer or a preemption does) takes its EngineCore with it within seconds. The rerun keeps the
    finished shards, generates the rest and exports every row in order; its terminal shows only bars and the
    summary (library logs go to the run's log), and a `--verbose` rerun shows them."""
    import psutil

    runs = tmp_path / "runs"
    args = ("--count", "16", "--shard-size", "4", "--output", str(tmp_path / "out"), "--run-dir", str(runs))
    env = {k: v for k, v in os.environ.items() if k != "VLLM_ENABLE_V1_MULTIPROCESSING"}  # the CLI's default
    proc = subprocess.Popen(cli(*args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        wait_for_first_shard(proc, runs)
        children = psutil.Process(proc.pid).children(recursive=True)
        assert children, "the engine core runs in a child process"
    finally:
        proc.send_signal(signal.SIGKILL)  # the driver only, not its process group
        proc.wait()
    gone, alive = psutil.wait_procs(children, timeout=15)
    assert not alive, [p.pid for p in alive]
    done = {p.name: p.stat().st_mtime_ns for p in runs.glob("instructions-*/shard-*.done")}
    assert 0 < len(done) < 4

    resumed = subprocess.run(cli(*args), capture_output=True, text=True, env=env, timeout=900)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    data = instructions(tmp_path / "out")
    assert sorted(data["id"]) == [f"algebra-{i:06d}" for i in range(16)]
    train = load_dataset(str(tmp_path / "out"), "instructions", split="train")["id"]
    assert train == sorted(train)  # the merge keeps the original order
    kept = {p.name: p.stat().st_mtime_ns for p in runs.glob("instructions-*/shard-*.done") if p.name in done}
    assert kept == done  # finished shards were not regenerated
    assert f"/{len(done)}" in resumed.stdout

    lines = screen(resumed.stdout) + screen(resumed.stderr)
    assert not [line for line in lines if any(word in line for word in NOISE)], lines
    bars = [line for line in lines if line.startswith("instructions: ")]  # not a terminal: a line a redraw
    assert bars and len(lines) - len(bars) <= 8 and any(line.startswith("stage ") for line in lines), lines
    log = (runs / "logs" / "main.log").read_text()
    assert "vllm" in log and "[shutdown]" in log and "magpie_hf.run.runner" not in resumed.stderr
    assert "force killing" not in log  # the engine's processes exit on their own, not SIGKILLed after vLLM's 5 s
    verbose = subprocess.run([*cli(*args), "--verbose"], capture_output=True, text=True, env=env, timeout=900)
    assert verbose.returncode == 0 and "stage instructions: 16 rows in 4 shards" in verbose.stderr
