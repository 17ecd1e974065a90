"""Logging for a run: a quiet terminal, everything else in a log file in the run dir.

The terminal shows progress bars, one line per stage and the summary table.
Library output (vLLM, transformers, datasets, torch) goes to
`<run_dir>/logs/<rank or main>.log`; `--verbose` shows it on the terminal too.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

from magpie_hf.run import storage

LIBRARIES = ("vllm", "transformers", "datasets", "torch", "accelerate", "huggingface_hub", "ray", "filelock", "urllib3")


def setup_logging(run_dir: str, verbose: bool = False, rank: int | None = None) -> Path | None:
    """Route library logs and warnings to a file in the run dir (and the terminal with `verbose`).

    Returns the log file, or None for a run dir that is not a local folder.
    """
    os.environ.setdefault("VLLM_CONFIGURE_LOGGING", "0")  # vLLM leaves its loggers to us
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error" if not verbose else "info")
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "magpie_hf", False):
            root.removeHandler(handler)
    root.setLevel(logging.INFO)
    path = None
    if storage.is_local(run_dir):
        folder = Path(storage.filesystem(run_dir)[1]) / "logs"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{'main' if rank is None else f'rank-{rank}'}.log"
        file_handler = logging.FileHandler(path)
        file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        file_handler.magpie_hf = True
        root.addHandler(file_handler)
    if verbose:
        terminal = logging.StreamHandler()
        terminal.magpie_hf = True
        root.addHandler(terminal)
    logging.captureWarnings(True)
    warnings.simplefilter("default" if verbose else "ignore")
    for name in LIBRARIES:
        logging.getLogger(name).propagate = True
    return path
