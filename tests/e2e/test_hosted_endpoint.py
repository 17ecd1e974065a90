"""The OpenAI-compatible engine against a server that is not vLLM: `transformers serve` on loopback.

The server is pinned to the embedded model folder, started once for this module. Like many hosted
endpoints it ignores `n`, `logprobs` and `top_logprobs` (one choice, no logprobs). Both forum recipes run
through it in their `api-demo` mode, solutions at a made-up price: every problem still gets the mode's `n`
solutions, the yes/no verdicts are read from the text and counted by source, and the cost is planned and
reported. A model name the server does not serve stops the run in one line.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from datasets import Dataset, concatenate_datasets, load_dataset

pytestmark = pytest.mark.e2e

PROBLEMS = "recipes/openmathreasoning/problems.yaml"
SOLUTIONS = "recipes/openmathreasoning/solutions.yaml"
PRICE = ["--set", "engine.price={input_per_million: 1, output_per_million: 2}"]
# The server does not batch: each request costs its full time. The mode's first 4 threads (a proof, a
# multiple-choice, a yes/no and a non-problem) still take every step of the classification chain; 8 tokens
# hold a reply's opening "Yes"/"No" (or "The answer to this question is yes."), where the verdict is read.
TINY_PROBLEMS = ["--set", "source.limit=4", "--set", "stages.extract_problems.max_tokens=64"]
TINY_PROBLEMS += ["--set", "stages.convert_proofs.max_tokens=64", "--set", "stages.classify_problems.max_tokens=8"]
# Two solutions a problem: still one request each from a server that ignores `n`, and one judge request each.
TINY_SOLUTIONS = ["stages.generate_solutions.n=2", "stages.generate_solutions.max_tokens=16"]
TINY = [arg for setting in TINY_SOLUTIONS for arg in ("--set", setting)]


@pytest.fixture(scope="module")
def server(loopback_server) -> str:
    """The base URL of `transformers serve` pinned to the embedded model folder, on the CPU (ready in ~15 s).

    Readiness is `/health`: its `/v1/models` lists the Hub cache, not the pinned model, and fails without one.
    """
    from magpie_hf.models.carriers import smollm2_path

    command = [sys.executable, "-m", "transformers.cli.transformers", "serve", str(smollm2_path()), "--device", "cpu"]
    offline = {"HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_UPDATE_CHECK": "1"}
    with loopback_server("transformers", command, "/health", 180, offline) as root:
        yield f"{root}/v1"


def magpie(*args: str, code: int = 0) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "magpie_hf.cli", *args], capture_output=True, text=True, timeout=900)
    assert proc.returncode == code, proc.stderr[-3000:]
    return proc


def stages(out: Path) -> dict[str, dict]:
    """The manifest's per-stage entries, by stage name."""
    return {s["stage"]: s for s in json.loads((out / "manifest.json").read_text())["stages"]}


def verdicts(stage: dict) -> dict[str, int]:
    """A manifest stage's verdicts by source: its `verdicts` mapping, or its `verdicts_<source>` counters."""
    if "verdicts" in stage:
        return stage["verdicts"]
    return {k.removeprefix("verdicts_"): n for k, n in stage["counters"].items() if k.startswith("verdicts_")}


def assert_text_verdicts(out: Path, stdout: str, stage: str) -> None:
    """The stage read its verdicts from the text (the server sends no logprobs), and the summary says so."""
    counted = verdicts(stages(out)[stage])
    assert counted.get("text", 0) > 0 and counted.get("logprobs", 0) == 0, counted
    assert re.search(rf"^{stage}:.*\btext\b", stdout, re.MULTILINE), stdout


def problems_source(out: Path) -> str:
    """The `--set` that points solutions.yaml at problems.yaml's output folder."""
    return f"source.path={out}/problems/*/*.parquet"


def problems_args(server: str, tmp: Path) -> list[str]:
    """`run problems.yaml --mode api-demo` through the server, tiny, against a two-problem benchmark in `tmp`."""
    (tmp / "bench.jsonl").write_text('{"problem": "What is 2 + 3?"}\n{"problem": "Solve x^2 = 4."}\n')
    bench = f"stages.decontaminate.benchmarks=[{{path: {tmp / 'bench.jsonl'}, column: problem}}]"
    args = ["run", PROBLEMS, "--mode", "api-demo", "--set", f"engine.base_url={server}", "--set", bench]
    return [*args, *TINY_PROBLEMS, "--run-dir", str(tmp / "runs"), "--output", str(tmp / "out")]


@pytest.fixture(scope="module")
def problems(server, tmp_path_factory) -> tuple[Path, str]:
    """The problems run: its output folder and printed summary."""
    tmp = tmp_path_factory.mktemp("problems")
    return tmp / "out", magpie(*problems_args(server, tmp)).stdout


@pytest.fixture(scope="module")
def solutions_args(server, problems) -> list[str]:
    """`solutions.yaml --mode api-demo` on those problems, through the server, at a made-up price."""
    source = ["--set", problems_source(problems[0])]
    return [SOLUTIONS, "--mode", "api-demo", "--set", f"engine.base_url={server}", *source, *PRICE, *TINY]


@pytest.fixture(scope="module")
def solutions(solutions_args, tmp_path_factory) -> tuple[Path, Path, str]:
    """The solutions run: its run dir, output folder and printed summary."""
    tmp = tmp_path_factory.mktemp("solutions")
    proc = magpie("run", *solutions_args, "--run-dir", str(tmp / "runs"), "--output", str(tmp / "out"))
    return tmp / "runs", tmp / "out", proc.stdout


def test_forum_problems_classify_from_text_and_count_the_verdicts(problems):
    out, stdout = problems
    rows = load_dataset(str(out), "problems", split="train")
    assert len(rows) > 0 and all(p.strip() for p in rows["problem"])
    assert_text_verdicts(out, stdout, "classify_problems")


def test_every_problem_holds_the_modes_n_solutions_from_a_server_that_ignores_n(problems, solutions):
    from magpie_hf.core.recipe import load_recipe

    runs, _, _ = solutions
    recipe = load_recipe(SOLUTIONS, [problems_source(problems[0]), *TINY_SOLUTIONS], mode="api-demo")
    n = next(e.config.n for e in recipe.stage_entries() if e.name == "generate_solutions")
    shards = sorted(runs.glob("generate_solutions-*/shard-*.arrow"))
    rows = concatenate_datasets([Dataset.from_file(str(s)) for s in shards])
    problem_count = len(concatenate_datasets(list(load_dataset(str(problems[0]), "problems").values())))
    assert n > 1 and len(rows) == problem_count
    assert [len(s) for s in rows["solver"]] == [n] * problem_count  # the server gives one choice a request


def test_the_llm_judge_reads_text_verdicts_and_counts_them(solutions):
    _, out, stdout = solutions
    assert_text_verdicts(out, stdout, "judge_answers")


def test_plan_summary_manifest_and_card_show_the_cost(solutions_args, solutions):
    plan = magpie("plan", *solutions_args).stdout
    assert "cost" in plan.lower(), plan  # the worst case: prompt tokens plus max tokens
    _, out, stdout = solutions
    manifest = json.loads((out / "manifest.json").read_text())
    assert 0 < manifest["cost"] < 0.1  # a few thousand tokens at 1 and 2 per million
    assert "cost" in stdout.lower() and "cost" in (out / "README.md").read_text().lower()


def test_a_model_the_server_does_not_serve_stops_the_run_in_one_line(server, tmp_path):
    proc = magpie(*problems_args(server, tmp_path), "--engine-arg", "model=no-such-model", code=2)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]  # the stages' bars, then the error
    errors = [line for line in lines if line.startswith("magpie-hf: error: ")]
    assert errors == lines[-1:] and "Traceback" not in proc.stderr, proc.stderr
    assert "HTTP 400: Server is pinned to" in errors[0] and "/v1//" not in errors[0], errors[0]
