"""Helpers the e2e tests share."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def wait_for_first_shard() -> Callable[[subprocess.Popen, Path], None]:
    """A function that waits until a running Magpie run has checkpointed its first instructions shard."""

    def wait(proc: subprocess.Popen, runs: Path, seconds: float = 600) -> None:
        deadline = time.time() + seconds
        while not list(runs.glob("instructions-*/shard-*.done")):
            assert proc.poll() is None, "the run ended before its first shard was done"
            assert time.time() < deadline, f"no shard done in {seconds} s"
            time.sleep(0.1)

    return wait
