"""The numeric `math` form of the original scripts, and Japanese messages."""

from __future__ import annotations

import pytest

from magpie_hf.core import messages
from magpie_hf.cli.main import build_parser, main
from magpie_hf.pipelines.magpie_math.command import math_to_run
from magpie_hf.core.recipe import RecipeError
from magpie_hf.core.result import RunResult, StageReport
from magpie_hf.cli.summary import format_summary


def math_opts(*args: str):
    opts = build_parser().parse_args(["math", *args])
    math_to_run(opts)
    return opts


@pytest.mark.parametrize(
    "args, domains",
    [
        (("1", "0.5", "2", "2"), "calculus"),
        (("0", "1", "1"), None),
        (("6", "0.1", "3", "1,5"), "algebra,number_theory"),
    ],
)
def test_math_numbers_map_to_the_all_domains_recipe(args, domains):
    opts = math_opts(*args)
    assert opts.recipe.endswith("magpie_math/all_domains.yaml")
    assert opts.model == args[0] and opts.scale == float(args[1])
    assert opts.domains == domains


@pytest.mark.parametrize(
    "args, message",
    [
        (("1", "1", "2"), "mode 2 runs one domain"),
        (("1", "1", "2", "7"), "not a domain number"),
        (("1", "1", "1", "2"), "mode 1"),
    ],
)
def test_math_rejects_inconsistent_numbers(args, message):
    with pytest.raises(RecipeError, match=message):
        math_opts(*args)


def test_math_unknown_model_exits_2(capsys):
    assert main(["math", "9", "1", "2", "1"]) == 2
    assert "unknown model '9'" in capsys.readouterr().err


def test_help_in_japanese(capsys):
    with pytest.raises(SystemExit):
        main(["--lang", "ja", "math", "--help"])
    assert "分野" in capsys.readouterr().out
    messages.set_language("en")


def test_summary_and_errors_in_japanese(capsys, tmp_path):
    report = StageReport(stage="instructions", fingerprint="x", rows_in=4, rows_out=3, generated_tokens=40, seconds=2.0)
    messages.set_language("ja")
    try:
        text = format_summary(
            RunResult({}, {}, [report], complete=True, seconds=2.0), [(tmp_path / "sft", 3)], tmp_path
        )
        assert "ステージ" in text and "出力:" in text and "3 行" in text and "20" in text
        assert main(["--lang", "ja", "run", str(tmp_path / "none.yaml")]) == 2
        assert "エラー" in capsys.readouterr().err
    finally:
        messages.set_language("en")
