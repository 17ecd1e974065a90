"""Sources: bad files answer in one line naming the file; an empty file gives a clean empty run."""

from __future__ import annotations

import pytest

from magpie_hf.cli.main import main
from magpie_hf.core.source import Source
from magpie_hf.run.sources import load_source


@pytest.mark.parametrize("content", [b"\xff\xfe\x00garbage\n", b"not json at all\n", b'{"problem": "x?"\n'])
def test_undecodable_source_is_one_line_naming_the_file(tmp_path, content):
    path = tmp_path / "problems.jsonl"
    path.write_bytes(content)
    with pytest.raises(ValueError) as err:
        load_source(Source(path=str(path)), "math")
    message = str(err.value)
    assert message.startswith(f"source.path: '{path}' is not readable as UTF-8 JSON lines") and "\n" not in message


def test_cli_exits_2_on_an_undecodable_source(tmp_path, capsys):
    path = tmp_path / "problems.jsonl"
    path.write_bytes(b"\xff\xfe\x00garbage\n")
    args = ["run", "recipes/cft/demo.yaml", "--set", f"source.path={path}", "--output", str(tmp_path / "o")]
    assert main([*args, "--run-dir", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is not readable as UTF-8 JSON lines" in err[0]
    assert not (tmp_path / "o").exists()


def test_empty_source_gives_a_clean_empty_export(tmp_path, capsys):
    path = tmp_path / "problems.jsonl"
    path.write_text("")
    rows, _ = load_source(Source(path=str(path)), "math")
    assert len(rows) == 0 and {"id", "problem", "answer"} <= set(rows.column_names)
    args = ["run", "recipes/cft/demo.yaml", "--set", f"source.path={path}", "--set", "source.where={}"]
    assert main([*args, "--output", str(tmp_path / "o"), "--run-dir", str(tmp_path / "r")]) == 0
    assert (tmp_path / "o" / "manifest.json").exists() and "critique      0" in capsys.readouterr().out


def test_push_names_a_bad_repo_id(tmp_path, capsys):
    (tmp_path / "README.md").write_text("---\n---\n")
    assert main(["push", str(tmp_path), "not a repo id!!"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "repo id 'not a repo id!!' is not valid" in err[0]


def test_keep_all_gives_each_row_every_field_of_its_source_row(tmp_path):
    import json

    path = tmp_path / "problems.jsonl"
    original = [
        {"question": "What is 1+1?", "gt": 2, "level": "easy", "steps": ["add"], "meta": {"year": 2020}},
        {"question": "Solve x+1=3.", "gt": None, "level": "hard", "steps": [], "meta": {"year": None}},
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in original))
    columns = {"problem": "question", "answer": "gt"}
    mapped, mapped_fp = load_source(Source(path=str(path), columns=columns), "math")
    kept, kept_fp = load_source(Source(path=str(path), columns=columns, keep="all"), "math")
    assert "source_row" not in mapped.column_names and kept_fp != mapped_fp
    assert kept["source_row"] == original and kept["problem"] == mapped["problem"] and kept["answer"] == ["2", None]
    easy, _ = load_source(Source(path=str(path), columns=columns, keep="all", where={"level": ["easy"]}), "math")
    assert easy["source_row"] == original[:1]
    assert Source(path=str(path), keep="all").row_columns()[-1] == "source_row"
