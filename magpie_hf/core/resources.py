"""Recipes and card templates: the top-level `recipes/` and `cards/` folders, shipped inside the wheel too.

In a source checkout (or an editable install) they are read where they are; a
wheel carries copies as package data under `magpie_hf/_data/`, read through
`importlib.resources`.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[2]


def resource_dir(kind: str) -> Path:
    """The folder of `recipes` or `cards`: the checkout's, else the installed package data."""
    here = CHECKOUT / kind
    if here.is_dir():
        return here
    return Path(str(files("magpie_hf") / "_data" / kind))


def card_template(name: str) -> Path:
    """A card template by file name (in `cards/`), or a path to one."""
    path = Path(name)
    return path if path.is_file() else resource_dir("cards") / name


def find_recipe(name: str | Path) -> Path:
    """A recipe by path, or by name under `recipes/` (`magpie_math/algebra`, with or without `.yaml`)."""
    path = Path(name)
    if path.is_file():
        return path
    root = resource_dir("recipes")
    for candidate in (root / path, root / path.with_suffix(".yaml")):
        if candidate.is_file():
            return candidate
    return path
