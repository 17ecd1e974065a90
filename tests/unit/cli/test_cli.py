"""The numeric `math` form of the original scripts, its menu and banner, `workers`, and Japanese messages."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from magpie_hf.core import messages
from magpie_hf.cli.main import build_parser, main
from magpie_hf.pipelines.magpie_math.command import math_to_run
from magpie_hf.core.recipe import RecipeError
from magpie_hf.core.result import RunResult, StageReport
from magpie_hf.cli.summary import format_summary


@pytest.fixture(autouse=True)
def no_terminal(monkeypatch):
    """stdin is no terminal unless a test types on one (`Terminal`), so no test waits for a menu answer."""
    monkeypatch.setattr("sys.stdin", io.StringIO(""))


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


class Terminal(io.StringIO):
    """Typed answers on a terminal's stdin."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    "answers, model, scale, domains",
    [
        ("1\n0.5\n2\n2\n", "1", 0.5, "calculus"),
        ("\n9\n0\n\nx\n3\n1 5\n", "0", 1.0, "algebra,number_theory"),  # no model default, scale 1.0, re-asked
        ("4\n2\n1\n", "4", 2.0, None),
    ],
)
def test_math_without_arguments_on_a_terminal_asks_the_seeds_questions(monkeypatch, capsys, answers, model, scale, domains):
    monkeypatch.setattr("sys.stdin", Terminal(answers))
    opts = math_opts()
    assert opts.recipe.endswith("magpie_math/all_domains.yaml")
    assert (opts.model, opts.scale, opts.domains) == (model, scale, domains)
    out = capsys.readouterr().out
    assert "6) Qwen/Qwen2.5-Coder-32B-Instruct" in out
    assert ("(1 algebra, 2 calculus, " in out) == (domains is not None)
    assert f"the same run without the menu: magpie-hf math {model} {scale} " in out


def test_math_on_a_terminal_asks_only_what_the_command_line_left_out(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", Terminal("3\n"))
    assert math_opts("1", "0.5", "2").domains == "geometry"
    assert "Model number" not in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", Terminal(""))
    with pytest.raises(RecipeError, match="end of input"):
        math_opts()


def test_math_without_arguments_off_a_terminal_prints_the_usage_and_exits_2(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["math"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.startswith("usage: magpie-hf math") and "give MODEL SCALE MODE" in err


def test_the_menu_runs_on_a_real_terminal():
    """stdin a pseudo-terminal with the answers typed ahead; the unknown stage stops the run before any model loads."""
    terminal, typed = os.openpty()
    os.write(terminal, b"0\n0.1\n2\n3\n")
    try:
        done = subprocess.run(
            [sys.executable, "-m", "magpie_hf.cli", "math", "--stages", "nope"],
            stdin=typed, capture_output=True, text=True, timeout=120, env=environment(LANG="C.UTF-8"),
        )
    finally:
        os.close(typed)
        os.close(terminal)
    assert done.returncode == 2 and "--stages: 'nope' is not a stage of magpie_math_geometry" in done.stderr
    assert "the same run without the menu: magpie-hf math 0 0.1 2 3" in done.stdout


def environment(**values: str) -> dict[str, str]:
    """This process's environment without any language setting, plus `values`."""
    unset = ("LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "MAGPIE_HF_LANG")
    return {**{k: v for k, v in os.environ.items() if k not in unset}, **values}


def test_japanese_locale_gives_japanese_help():
    command = [str(Path(sys.executable).with_name("magpie-hf")), "math", "--help"]
    japanese = subprocess.run(command, capture_output=True, text=True, timeout=120, env=environment(LANG="ja_JP.UTF-8"))
    assert japanese.returncode == 0 and "従来スクリプトと同じ数値指定" in japanese.stdout and "分野" in japanese.stdout


@pytest.mark.parametrize(
    "variables, expected",
    [
        ({"LANG": "ja_JP.UTF-8"}, "ja"),
        ({"LC_MESSAGES": "ja_JP.UTF-8", "LANG": "en_US.UTF-8"}, "ja"),
        ({"LC_ALL": "C.UTF-8", "LC_MESSAGES": "ja_JP.UTF-8"}, "en"),
        ({"LC_ALL": "", "LANG": "ja_JP"}, "ja"),
        ({"LANG": "ja_JP.UTF-8", "MAGPIE_HF_LANG": "en"}, "en"),
        ({"LANG": "fr_FR.UTF-8"}, "en"),
        ({}, "en"),
    ],
)
def test_the_language_follows_the_locale(variables, expected):
    assert messages.default_language(variables) == expected


def test_lang_overrides_the_locale(capsys):
    messages.set_language("ja")
    try:
        with pytest.raises(SystemExit):
            main(["--lang", "en", "math", "--help"])
        assert "the original scripts' numeric form" in capsys.readouterr().out
    finally:
        messages.set_language("en")


def test_a_magpie_run_starts_with_a_banner_of_model_and_problems(monkeypatch, capsys, tmp_path):
    def stop(opts):
        raise RecipeError("stopped before the run")

    monkeypatch.setattr(sys.modules["magpie_hf.cli.main"], "make_executor", stop)
    assert main(["math", "0", "0.5", "3", "1,5"]) == 2
    out = capsys.readouterr().out
    assert "model 0 HuggingFaceTB/SmolLM2-135M-Instruct" in out and "problems: 7,000 in total" in out
    assert "problems: 7,000 in total (algebra 5,000, number_theory 2,000)" in out
    assert main(["run", "magpie_math/general", "--count", "20"]) == 2
    assert "problems: 20 in total (general 20)" in capsys.readouterr().out
    generic = tmp_path / "generic.yaml"
    generic.write_text("name: toy\ncount: 10\nstages:\n  - stage: instructions\n")
    assert main(["run", str(generic)]) == 2 and "problems:" not in capsys.readouterr().out


def test_workers_prints_the_shard_count_and_the_shards_per_worker(capsys):
    assert main(["workers", "magpie_math/algebra", "--gpus", "3", "--model", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "# 40 shards in the first stage; shards per worker (rank 0 first): 14, 13, 13"
    assert lines[1] == "mkdir -p logs" and "--rank 2 --world-size 3" in lines[4]


def test_the_summary_counts_an_endpoints_requests_retries_and_429s(tmp_path):
    report = StageReport(stage="solutions", fingerprint="x", rows_in=4, requests=6, retries=2, rate_limited=1)
    result = RunResult({}, {}, [report], complete=True, seconds=2.0)
    remote = {"engine": {"backend": "openai"}, "chat_template": "preset"}
    line = "solutions: 6 requests, 2 retries, 1 answered 429"
    assert line in format_summary(result, [], tmp_path, [remote])
    assert "retries" not in format_summary(result, [], tmp_path, [{**remote, "engine": {"backend": "vllm"}}])


class Refusing(BaseHTTPRequestHandler):
    """A server pinned to another model, as `transformers serve` answers a request naming the wrong one."""

    def do_POST(self):  # noqa: N802 - the http.server API
        self.rfile.read(int(self.headers["Content-Length"]))
        data = b'{"detail": "Server is pinned to the-served-model"}'
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def test_an_endpoint_that_refuses_every_request_is_one_line_and_exit_2(tmp_path, capsys):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}/v1/"
    args = ["recipes/openmathreasoning/problems.yaml", "--mode", "api-demo", "--set", f"engine.base_url={base}"]
    try:
        code = main(["run", *args, "--run-dir", str(tmp_path)])
    finally:
        server.shutdown()
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    (line,) = [line for line in err.splitlines() if line.strip()]
    assert line.startswith("magpie-hf: error: http://127.0.0.1:") and "/v1/chat/completions refused the request" in line
    assert "HTTP 400: Server is pinned to the-served-model (check engine.model" in line
