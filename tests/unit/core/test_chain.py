"""Stages declare their columns; a recipe whose chain lacks one fails on one line, before any engine loads."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from magpie_hf.core.chain import ChainError, check_chain
from magpie_hf.core.recipe import load_recipe

GAP = """
name: gap
domain: algebra
count: 4
stages:
  - stage: instructions
  - stage: sample
    label: candidates
    n: 2
  - stage: rewards
  - stage: preference
    correct_column: candidates_correct
"""


def test_chain_names_the_stage_the_column_and_who_would_write_it(tmp_path):
    path = tmp_path / "gap.yaml"
    path.write_text(GAP)
    with pytest.raises(ChainError) as err:
        check_chain(["id", "domain"], load_recipe(path).stage_entries())
    message = str(err.value)
    assert message.startswith("stages[3] (preference): needs column 'candidates_correct'")
    assert "\n" not in message


def test_source_columns_are_named_as_the_fix(tmp_path):
    path = tmp_path / "src.yaml"
    problems = tmp_path / "p.jsonl"
    problems.write_text('{"question": "x?"}\n')
    path.write_text(
        f"name: s\nsource: {{path: {problems}, columns: {{question: question}}}}\n"
        "stages: [{stage: sample, label: response}]\n"
    )
    with pytest.raises(ChainError, match=r"needs column 'problem'.*source.columns: \{problem: <your column>\}"):
        check_chain(load_recipe(path).source.row_columns(), load_recipe(path).stage_entries(), "source.columns")


def test_explode_stages_replace_the_columns(tmp_path):
    recipe = load_recipe("recipes/openmathreasoning/problems.yaml")
    entries = recipe.stage_entries()
    check_chain(recipe.source.row_columns(), entries, "source.columns")
    with pytest.raises(ChainError, match="needs column 'forum_post'"):
        check_chain(recipe.source.row_columns(), [entries[0], entries[0]])


def test_cli_reports_a_gap_in_seconds_with_exit_2(tmp_path):
    path = tmp_path / "gap.yaml"
    path.write_text(GAP)
    start = time.perf_counter()
    cmd = [sys.executable, "-m", "magpie_hf.cli", "run", str(path), "--output", str(tmp_path / "o"), "--run-dir", str(tmp_path / "r")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and time.perf_counter() - start < 5
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "stages[3] (preference): needs column 'candidates_correct'" in lines[0]
    assert not (tmp_path / "r").exists() and not (tmp_path / "o").exists()
