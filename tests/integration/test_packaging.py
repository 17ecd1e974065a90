"""The wheel carries the recipes and card templates, and an installed copy finds recipes by name."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_wheel_carries_recipes_and_cards_and_finds_them_when_installed(tmp_path):
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), str(ROOT)]
    subprocess.run(build, check=True, capture_output=True, timeout=300)
    [wheel] = tmp_path.glob("magpie_hf-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    recipes = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "recipes").rglob("*.yaml"))
    for recipe in recipes:
        assert f"magpie_hf/_data/{recipe}" in names
    for card in ("magpie_math", "critique", "forum", "generic"):
        assert f"magpie_hf/_data/cards/{card}.md" in names
    assert "magpie_hf/_data/recipes/openmathreasoning/sample_threads.jsonl" in names
    assert "magpie_hf/models/presets.yaml" in names  # the preset table is package data
    assert not [n for n in names if n.startswith(("tests/", "bench/")) or "/tests/" in n]
    installed = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(installed)
    code = "from magpie_hf.core.resources import find_recipe; print(find_recipe('magpie_math/algebra'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env={"PYTHONPATH": str(installed)})
    assert out.stdout.strip() == str(installed / "magpie_hf" / "_data" / "recipes" / "magpie_math" / "algebra.yaml"), out.stderr
