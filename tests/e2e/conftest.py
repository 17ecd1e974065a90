"""Helpers the e2e tests share."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
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


@pytest.fixture(scope="session")
def loopback_server(tmp_path_factory):
    """A context manager that runs a server on a free loopback port until it leaves, yielding its root URL.

    `command` is the server's command line, given `--host` and `--port`; the server is up once GET `ready` answers 200
    (within `seconds`, or the test fails with the end of its log). It is stopped with SIGTERM, then SIGKILL.
    """

    @contextmanager
    def serve(name: str, command: list[str], ready: str, seconds: float, env=None) -> Iterator[str]:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        log = tmp_path_factory.mktemp("server") / "server.log"
        with open(log, "w") as out:
            proc = subprocess.Popen(
                [*command, "--host", "127.0.0.1", "--port", str(port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
                start_new_session=True,
            )
        root = f"http://127.0.0.1:{port}"
        try:
            deadline = time.time() + seconds
            while True:
                assert proc.poll() is None, f"the {name} server exited:\n" + log.read_text()[-3000:]
                assert time.time() < deadline, (
                    f"the {name} server did not answer in {seconds} s:\n" + log.read_text()[-3000:]
                )
                try:
                    if httpx.get(root + ready, timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(1)
            yield root
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    return serve
