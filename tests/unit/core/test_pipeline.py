"""A pipeline registered from outside the package runs and exports without any framework change."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml
from datasets import load_dataset

import magpie_hf
from magpie_hf.core.pipeline import get_pipeline

TOY = Path(__file__).parents[1] / "toy"


@pytest.fixture
def toy_recipe(tmp_path, scripted) -> Path:
    spec = importlib.util.spec_from_file_location("toy_pipeline", TOY / "toy_pipeline.py")
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
    model, engine = scripted
    engine.rules["2+2"] = "four"
    engine.default = "no"
    problems = tmp_path / "problems.jsonl"
    problems.write_text('{"q": "What is 2+2?", "a": "4"}\n{"q": "Name a prime.", "a": "2"}\n')
    recipe = {
        "name": "toy_run",
        "pipeline": "toy",
        "domain": "toys",
        "engine": "fake",
        "source": {"path": str(problems), "columns": {"problem": "q", "answer": "a"}},
        "stages": [{"stage": "toy_shout", "marks": 3}],
        "outputs": {"shouts": "toy_shout"},
        "output": str(tmp_path / "out"),
        "run_dir": str(tmp_path / "runs"),
        "test_fraction": 0.0,
    }
    path = tmp_path / "toy.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def test_toy_pipeline_runs_and_exports(toy_recipe, tmp_path):
    out = magpie_hf.run_recipe(toy_recipe)
    assert list(out) == ["shouts"]
    rows = out["shouts"]["train"]
    assert rows["shout"] == ["FOUR!!!", "NO!!!"] and rows["domain"] == ["toys", "toys"]
    card = (tmp_path / "out" / "README.md").read_text()
    assert "A toy export with `shouts`" in card and "- toy" in card
    assert load_dataset(str(tmp_path / "out"), "shouts_toys", split="train")["id"] == rows["id"]
    assert get_pipeline("toy").tables["shouts"].tag == "toy"
