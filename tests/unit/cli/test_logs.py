"""A quiet run's library progress bars: off, without importing the libraries for it."""

from __future__ import annotations

import subprocess
import sys

CHILD = """
import sys
from magpie_hf.cli.logs import quiet_libraries

quiet_libraries()
imported = "transformers" in sys.modules
from transformers.utils import logging

print(imported, logging.is_progress_bar_enabled())
"""


def test_transformers_imported_after_quieting_keeps_its_bars_off():
    child = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=120, check=True)
    assert child.stdout.split() == ["False", "False"]
