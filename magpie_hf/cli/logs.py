"""Logging for a run: a quiet terminal, everything else in a log file in the run dir.

The terminal shows progress bars, one line per stage and the summary table.
Library output (vLLM, transformers, datasets, torch; Python warnings; what the
engine's own processes write to stderr) goes to `<run_dir>/logs/main.log`, or
`rank-R.log` for one worker of several; `--verbose` leaves it on the terminal.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings
from pathlib import Path
from typing import Iterator

from magpie_hf.run import storage


def log_file(run_dir: str, rank: int | None) -> Path | None:
    """Where this process logs: `<run_dir>/logs/{main|rank-R}.log`, or None for a run dir that is not local."""
    if not storage.is_local(run_dir):
        return None
    folder = Path(storage.filesystem(run_dir)[1]) / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / ("main.log" if rank is None else f"rank-{rank}.log")


@contextlib.contextmanager
def quiet_terminal(run_dir: str, verbose: bool = False, rank: int | None = None) -> Iterator[Path | None]:
    """Route logs, warnings and stderr to the run's log file for the duration; our own bars stay on the terminal.

    File descriptor 2 itself points at the log file (the engine's processes
    inherit it, and C++ code writes there directly), while `sys.stderr`, which
    the progress bars use, writes to the original terminal. Restored on exit.
    """
    os.environ.setdefault("VLLM_CONFIGURE_LOGGING", "0")  # vLLM's loggers propagate to ours (read at import)
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    path = log_file(run_dir, rank)
    root = logging.getLogger()
    handler = logging.FileHandler(path) if path else logging.NullHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)
    if verbose or path is None:
        terminal = logging.StreamHandler()
        root.addHandler(terminal)
        try:
            yield path
        finally:
            root.removeHandler(handler)
            root.removeHandler(terminal)
        return
    quiet_libraries()
    sys.stderr.flush()
    terminal_fd, saved_stderr = os.dup(2), sys.stderr
    with open(path, "a") as log:
        os.dup2(log.fileno(), 2)
    sys.stderr = os.fdopen(terminal_fd, "w", buffering=1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield path
    finally:
        sys.stderr.flush()
        os.dup2(terminal_fd, 2)
        sys.stderr.close()
        sys.stderr = saved_stderr
        root.removeHandler(handler)


def quiet_libraries() -> None:
    """The Hub's and transformers' progress bars (e.g. "Loading weights") stay off the terminal.

    transformers takes the Hub's setting when it is imported, so it is imported here only when it already is.
    """
    from huggingface_hub.utils import disable_progress_bars  # noqa: PLC0415 - only for a quiet CLI run

    disable_progress_bars()
    if "transformers" in sys.modules:
        from transformers.utils import logging as transformers_logging  # noqa: PLC0415

        transformers_logging.disable_progress_bar()
