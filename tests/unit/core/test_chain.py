"""Stages declare their columns; a recipe whose chain lacks one fails on one line, before any engine loads."""

from __future__ import annotations


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
        check_chain(recipe.source.row_columns(), [entries[1], entries[1]])


def test_cli_reports_a_gap_with_exit_2_before_any_engine_loads(tmp_path, capsys, monkeypatch):
    from magpie_hf.cli.main import main
    from magpie_hf.engines import BACKENDS

    def no_engine(preset):
        raise AssertionError("an engine was loaded before the chain was checked")

    monkeypatch.setitem(BACKENDS, "vllm", no_engine)
    path = tmp_path / "gap.yaml"
    path.write_text(GAP)
    code = main(["run", str(path), "--output", str(tmp_path / "o"), "--run-dir", str(tmp_path / "r")])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1
    assert "stages[3] (preference): needs column 'candidates_correct'" in lines[0]
    assert not (tmp_path / "r").exists() and not (tmp_path / "o").exists()
