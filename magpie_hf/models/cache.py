"""Where magpie-hf keeps materialised models and engine caches."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """`$MAGPIE_HF_CACHE`, default `~/.cache/magpie_hf`."""
    return Path(os.environ.get("MAGPIE_HF_CACHE", Path.home() / ".cache" / "magpie_hf")).expanduser()
