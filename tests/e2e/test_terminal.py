"""The terminal of a default run: progress bars, the summary table, no library noise, a clean exit."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.e2e

NOISE = ("WARNING", "Warning", "Traceback", "exited unexpectedly", "ERROR", "Triton", "[shutdown]")


def screen(text: str) -> list[str]:
    """The lines a terminal shows: each line as its last carriage-return redraw leaves it."""
    return [line.split("\r")[-1] for line in text.splitlines() if line.split("\r")[-1].strip()]


def test_default_run_is_quiet_and_verbose_shows_the_logs(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "VLLM_ENABLE_V1_MULTIPROCESSING"}  # the CLI's default
    cmd = [sys.executable, "-m", "magpie_hf.cli", "run", "recipes/magpie_math/algebra.yaml", "--count", "8"]
    cmd += ["--stages", "instructions", "--set", "stages.instructions.max_tokens=32"]
    cmd += ["--output", str(tmp_path / "out"), "--run-dir", str(tmp_path / "runs")]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = screen(proc.stdout) + screen(proc.stderr)
    assert not [line for line in lines if any(word in line for word in NOISE)], lines
    assert len(lines) <= 12 and any(line.startswith("stage ") for line in lines)
    log = (tmp_path / "runs" / "logs" / "main.log").read_text()
    assert "vllm" in log and "[shutdown]" in log
    assert "force killing" not in log  # the engine's processes exit on their own, not SIGKILLed after vLLM's 5 s
    verbose = subprocess.run([*cmd, "--verbose"], capture_output=True, text=True, env=env, timeout=900)
    assert verbose.returncode == 0 and "magpie_hf.run.runner" not in proc.stderr
    assert "stage instructions: 8 rows in 1 shards" in verbose.stderr
