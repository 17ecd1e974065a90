"""A watchdog that kills an engine's processes when the process that started them dies, even by SIGKILL.

vLLM's EngineCore (and its workers) are children of the driver; when the
driver is SIGKILLed (OOM killer, Slurm preemption) they are re-parented and
keep running, holding GPU memory the resumed run then cannot get. The reaper
is a small process in its own session that records the driver's descendants
while the driver lives, and SIGKILLs them as soon as it is gone.
"""

from __future__ import annotations

import os
import subprocess
import sys

WATCH = """
import os, signal, sys, time
import psutil
driver, me, known = psutil.Process(int(sys.argv[1])), os.getpid(), set()
while True:
    try:
        if driver.status() == psutil.STATUS_ZOMBIE:
            break
        known |= {p.pid for p in driver.children(recursive=True) if p.pid != me}
    except psutil.Error:
        break
    time.sleep(float(sys.argv[2]))
for pid in known:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
"""

_STARTED: list[int] = []


def start_reaper(poll_seconds: float = 0.5) -> None:
    """Watch this process once (idempotent per process)."""
    if os.getpid() in _STARTED:
        return
    _STARTED.append(os.getpid())
    subprocess.Popen(
        [sys.executable, "-c", WATCH, str(os.getpid()), str(poll_seconds)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # outlives a kill of the driver's process group
    )
