"""A sandbox for model-written Python: each snippet in a fresh process, under limits, its output for the model.

`Sandbox.run(code, history)` starts `python -I` (the running interpreter, no
user site, no environment of the caller) on `sandbox_prelude.py` in a fresh
temporary directory (its cwd, HOME and TMPDIR; removed afterwards), in a
session of its own, and hands it the snippet. The child:

- leaves the network (a network namespace of its own where the OS allows it:
  as root), and refuses sockets anyway;
- runs under RLIMIT_AS, RLIMIT_CPU, RLIMIT_NOFILE and RLIMIT_FSIZE, with one
  BLAS/OpenMP thread;
- refuses, through an audit hook, writes and deletes outside its directory,
  new processes (os.system, subprocess, fork, exec), signals to other
  processes, native libraries (ctypes) and limit changes: the snippet gets a
  `PermissionError` and the status `blocked`;
- with `stateful`, first runs the solution's earlier cells (notebook
  semantics), their output discarded; a final expression's repr is printed.

The parent reads at most `output_bytes` and kills the whole process group on a
wall timeout (each cell has `wall_seconds`), on an output flood, on `close`, and
after every run, so nothing is left behind. What goes back to the model is
`Execution.text`: stdout then stderr, cut to `output_chars`, and for a failure
one line saying what happened.

Recipes set the limits under a stage's `sandbox:` key.

Example:
    >>> sandbox = Sandbox(SandboxLimits(wall_seconds=5))    # doctest: +SKIP
    >>> sandbox.run("print(x * 3)", history=["x = 2"]).text
    '6\\n'
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Sequence

from pydantic import BaseModel, ConfigDict, Field

PRELUDE = Path(__file__).with_name("sandbox_prelude.py")
ONE_THREAD = MappingProxyType(
    {name: "1" for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")}
)
PAYLOAD = ".snippet.json"  # the child reads and removes it
STARTUP_SECONDS = 30.0  # until the first cell starts (a loaded machine starts Python slowly)
CUT = "<output cut>"  # NeMo-Skills' mark of cut output
STATUSES = ("completed", "error", "timeout", "memory", "output_limit", "crashed", "blocked")


class SandboxLimits(BaseModel):
    """Limits for one snippet; recipes set them under a stage's `sandbox:` key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    wall_seconds: float = Field(default=10.0, gt=0)  # per cell; then the whole process group is killed
    cpu_seconds: int = Field(default=10, gt=0)  # per cell (RLIMIT_CPU, in whole seconds: up to 1 s more)
    memory_mb: int = Field(default=2048, ge=256)  # RLIMIT_AS; numpy and sympy import in 2048
    output_chars: int = Field(default=1000, gt=0)  # what the model sees of stdout+stderr (NeMo-Skills' default)
    output_bytes: int = Field(default=1_000_000, gt=0)  # the most the parent reads; past it the child is killed
    open_files: int = Field(default=64, ge=16)  # RLIMIT_NOFILE
    file_mb: int = Field(default=100, gt=0)  # RLIMIT_FSIZE: the largest file the snippet may write
    stateful: bool = True  # a solution's earlier cells run again before the new one, their output discarded


@dataclass(frozen=True)
class Execution:
    """The outcome of one snippet: its output, its status (one of `STATUSES`) and wall seconds.

    `note` is the one line that says what went wrong when the output does not
    (a timeout, a crash, a flood); `text` is what goes back to the model.
    """

    stdout: str
    stderr: str
    status: str
    seconds: float
    note: str = ""
    output_chars: int = 1000

    @property
    def text(self) -> str:
        """stdout then stderr (NeMo-Skills' `qwen` format) cut to `output_chars`, then the note; never empty
        for a failure."""
        shown = cut(self.stdout, self.stderr, self.output_chars)
        note = self.note
        if not note and self.status != "completed" and not shown.strip():
            note = f"Execution failed ({self.status})"
        if not note:
            return shown
        if shown and not shown.endswith("\n"):
            shown += "\n"
        return f"{shown}{note}\n"


def cut(stdout: str, stderr: str, limit: int) -> str:
    """stdout + stderr in about `limit` characters: stdout's head and stderr's tail (a traceback ends in
    what matters), each marked where cut."""
    if len(stdout) + len(stderr) <= limit:
        return stdout + stderr
    err_room = max(limit - len(stdout), limit // 2)
    if len(stderr) > err_room:
        stderr = f"{CUT}\n{stderr[-err_room:]}"
    out_room = limit - min(len(stderr), err_room)
    if len(stdout) > out_room:
        stdout = f"{stdout[:out_room]}{CUT}\n"
    return stdout + stderr


class Sandbox:
    """Runs snippets in separate processes, at most `workers` at once (default: the machine's cores)."""

    def __init__(self, limits: SandboxLimits = SandboxLimits(), workers: int | None = None):
        self.limits = limits
        self.workers = workers or os.cpu_count() or 1
        self._slots = threading.BoundedSemaphore(self.workers)
        self._lock = threading.Lock()
        self._running: set[subprocess.Popen] = set()
        self._closed = False

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def run(self, code: str, history: Sequence[str] = ()) -> Execution:
        """Thread-safe, blocking: many threads call it at once; a semaphore bounds the processes. `history`: the
        solution's earlier cells (run first, output discarded) when limits.stateful."""
        cells = list(history) if self.limits.stateful else []
        with self._slots, tempfile.TemporaryDirectory(prefix="magpie-sandbox-", ignore_cleanup_errors=True) as cwd:
            start = time.perf_counter()
            payload = {"code": code, "history": cells, "limits": self.limits.model_dump()}
            Path(cwd, PAYLOAD).write_text(json.dumps(payload))
            with self._lock:
                if self._closed:
                    raise RuntimeError("the sandbox is closed")
                proc, control = spawn(cwd)
                self._running.add(proc)
            try:
                stdout, stderr, told, reason = collect(proc, control, self.limits)
            finally:
                kill(proc)
                os.close(control)
                proc.stdout.close()
                proc.stderr.close()
                with self._lock:
                    self._running.discard(proc)
        status, note = outcome(told, reason, proc.returncode, self.limits)
        return Execution(stdout, stderr, status, time.perf_counter() - start, note, self.limits.output_chars)

    def close(self) -> None:
        """Kill what runs now and refuse new runs: nothing is left running afterwards."""
        with self._lock:
            self._closed = True
            running = list(self._running)
        for proc in running:
            kill(proc)


def spawn(cwd: str) -> tuple[subprocess.Popen, int]:
    """The child on the payload in `cwd`, in a session of its own, with a bare environment whose home and
    temp dir are `cwd`; and the read end of its control pipe."""
    env = {"PATH": os.defpath, "HOME": cwd, "TMPDIR": cwd, "MPLCONFIGDIR": cwd, "LC_ALL": "C.UTF-8", **ONE_THREAD}
    control, child_end = os.pipe()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-I", "-B", "-u", str(PRELUDE), PAYLOAD, str(child_end)],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(child_end,),
            start_new_session=True,
        )
    except BaseException:
        os.close(control)
        raise
    finally:
        os.close(child_end)
    return proc, control


def collect(proc: subprocess.Popen, control: int, limits: SandboxLimits) -> tuple[str, str, str | None, str | None]:
    """Read the child until it ends: its stdout, its stderr, the status it told, and why the parent stopped it
    (`timeout`, `output_limit`) or None."""
    streams = {proc.stdout.fileno(): bytearray(), proc.stderr.fileno(): bytearray()}
    told, pending, reason = None, b"", None
    deadline = time.monotonic() + STARTUP_SECONDS
    with selectors.DefaultSelector() as selector:
        for fd in (*streams, control):
            selector.register(fd, selectors.EVENT_READ)
        while selector.get_map() and reason is None:
            ready = selector.select(deadline - time.monotonic())
            if not ready and time.monotonic() >= deadline:
                reason = "timeout"
            for key, _ in ready:
                data = os.read(key.fd, 65536)
                if not data:
                    selector.unregister(key.fd)
                elif key.fd == control:
                    *lines, pending = (pending + data).split(b"\n")
                    for line in lines:
                        if line == b"cell":
                            deadline = time.monotonic() + limits.wall_seconds
                        elif line.startswith(b"status "):
                            told = line.removeprefix(b"status ").decode()
                else:
                    room = limits.output_bytes - sum(map(len, streams.values()))
                    streams[key.fd] += data[:room]
                    if len(data) > room:
                        reason = "output_limit"
    if reason is None:
        try:
            proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            reason = "timeout"
    out, err = (bytes(b).decode(errors="replace") for b in streams.values())
    return out, err, told, reason


def kill(proc: subprocess.Popen) -> None:
    """Kill the child's process group (whatever it started too) and reap the child."""
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def outcome(told: str | None, reason: str | None, returncode: int, limits: SandboxLimits) -> tuple[str, str]:
    """The status of a finished child and its one-line note."""
    if reason == "timeout":
        return "timeout", f"Execution timed out after {limits.wall_seconds:g} s"
    if reason == "output_limit":
        return "output_limit", f"Execution stopped: its output passed {limits.output_bytes} bytes"
    if told == "memory":
        return "memory", f"Execution ran out of memory (limit {limits.memory_mb} MB)"
    if told is not None:
        return told, ""  # the output says it (a traceback)
    if returncode == -signal.SIGXCPU:
        return "timeout", f"Execution used more than {limits.cpu_seconds} s of CPU time"
    if returncode < 0:
        return "crashed", f"Execution crashed: {signal.strsignal(-returncode) or f'signal {-returncode}'}"
    if returncode:
        return "error", f"Execution exited with code {returncode}"
    return "completed", ""
