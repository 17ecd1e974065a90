"""Build hook: the wheel carries the top-level `recipes/` and `cards/` as `magpie_hf/_data/` package data.

The top-level folders stay the source of truth; `magpie_hf.core.resources`
reads them from the checkout, or from `_data` in an installed wheel.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SHIPPED = ("recipes", "cards")


class BuildWithData(build_py):
    """`build_py` that also copies `recipes/` and `cards/` into the built package."""

    def run(self):
        super().run()
        root = Path(__file__).parent
        for name in SHIPPED:
            target = Path(self.build_lib) / "magpie_hf" / "_data" / name
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(root / name, target, ignore=shutil.ignore_patterns("__pycache__", ".*"))


setup(cmdclass={"build_py": BuildWithData})
