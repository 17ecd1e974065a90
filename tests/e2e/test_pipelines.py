"""The critique and forum recipes through the CLI on the embedded model, with tiny settings."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from datasets import Dataset, concatenate_datasets, load_dataset

pytestmark = pytest.mark.e2e

CFT_TINY = [
    "--set",
    "shard_size=2",
    "--set",
    "stages.model_a.n=2",
    "--set",
    "stages.model_a.max_tokens=24",
    "--set",
    "stages.model_b.n=2",
    "--set",
    "stages.model_b.max_tokens=24",
]


def magpie(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "magpie_hf.cli", *args], capture_output=True, text=True, timeout=900, cwd=cwd
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def every_row(folder: Path, config: str) -> Dataset:
    return concatenate_datasets(list(load_dataset(str(folder), config).values())).sort("id")


def cft_source(folder: Path) -> Path:
    """Seven of the easiest training problems and, third, one past the embedded model's context, as JSON lines."""
    train = [json.loads(line) for line in Path("../shared/data/train/math_train_2k.jsonl").read_text().splitlines()]
    rows = [(row["problem"], row["answer"]) for row in train if row["difficulty"] == 1.0][:7]
    rows.insert(2, ("Add " + "one and one, " * 1500 + "then stop.", "2"))
    source = folder / "problems.jsonl"
    source.write_text("".join(json.dumps({"problem": p, "answer": a}) + "\n" for p, a in rows))
    return source


def test_cft_worker_killed_then_rerun_is_complete_stable_and_counts_an_overlong_problem(tmp_path):
    """A worker killed mid-stage, then a plain run: every problem graded once, the overlong one dropped and counted."""
    runs, out = tmp_path / "runs", tmp_path / "cft"
    source = ["--set", f"source.path={cft_source(tmp_path)}", "--set", "source.where={}"]
    args = ["run", "recipes/cft/demo.yaml", *source, *CFT_TINY, "--run-dir", str(runs), "--output", str(out)]
    worker = subprocess.Popen(
        [sys.executable, "-m", "magpie_hf.cli", *args, "--rank", "0", "--world-size", "2", "--no-wait"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.time() + 600
        while not list(runs.glob("model_a-*/shard-*.done")):
            assert worker.poll() is None and time.time() < deadline
            time.sleep(0.2)
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
    first = magpie(*args).stdout
    assert "problems: 7 graded" in first and "model_a" in first and "prompt_too_long: 1" in first
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["stages"][0]["dropped"] == {"prompt_too_long": 1}
    assert "prompt_too_long: 1" in (out / "README.md").read_text()
    graded = next(s for s in manifest["stages"] if s["stage"] == "grade")
    assert graded["rows_out"] == 7 and graded["shards_run"] + graded["shards_reused"] == 4
    again = magpie(*args).stdout
    assert "4/0" not in again.split("\ngrade ")[1].splitlines()[0]  # everything reused the second time
    if (out / "critique").exists():
        rows = every_row(out, "critique")
        assert len(set(rows["id"])) == len(rows)
        assert every_row(out, "critique").to_list() == rows.to_list()  # stable, row for row


def test_forum_demo_runs_reuses_and_names_missing_inputs(tmp_path):
    root = Path.cwd()
    runs = tmp_path / "runs"
    tiny = [  # the first 6 threads: a proof, a multiple-choice, a yes/no, a non-problem, a two-problem post, a problem
        "--set",
        "source.limit=6",
        "--set",
        "stages.decontaminate.benchmarks=[{path: ../shared/data/benchmarks/math500.jsonl, column: problem}]",
        "--set",
        "stages.extract_problems.max_tokens=64",
        "--set",
        "stages.convert_proofs.max_tokens=64",
    ]
    problems = [
        "run",
        str(root / "recipes/openmathreasoning/problems.yaml"),
        "--mode",
        "demo",
        *tiny,
        "--run-dir",
        str(runs),
    ]
    proc = subprocess.run(
        [sys.executable, "-m", "magpie_hf.cli", *problems, "--stages", "classify_problems,extract_answers"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=root,
    )
    assert proc.returncode == 2 and "stage 'extract_problems' has not run" in proc.stderr  # prepare runs with it
    magpie(*problems, "--output", str(tmp_path / "problems"))
    rows = every_row(tmp_path / "problems", "problems")
    assert set(rows["problem_type"]) <= {"regular", "proof"} and len(set(rows["id"])) == len(rows)
    assert all(i.split("-p")[0] == p for i, p in zip(rows["id"], rows["post_id"]))
    again = magpie(*problems, "--output", str(tmp_path / "problems")).stdout
    assert "0/1" in again.split("decontaminate")[1].splitlines()[0]  # reused
    # the original's documented --stages line, once extract_problems has run
    partial = magpie(
        *problems, "--stages", "classify_problems,extract_answers", "--output", str(tmp_path / "p2")
    ).stdout
    assert "classify_problems" in partial and "extract_answers" in partial and "merge_data" not in partial
    solutions = [
        "run",
        "recipes/openmathreasoning/solutions.yaml",
        "--mode",
        "demo",
        "--run-dir",
        str(runs),
        "--set",
        f"source.path={tmp_path}/problems/problems/*/*.parquet",
        "--output",
        str(tmp_path / "sft"),
        "--set",
        "stages.generate_solutions.max_tokens=48",
    ]
    out = magpie(*solutions).stdout
    assert "judge_answers" in out and "prepare_for_sft" in out


def test_tir_demo_runs_model_written_code_and_exports_loadable_configs(tmp_path):
    train = [json.loads(line) for line in Path("../shared/data/train/math_train_2k.jsonl").read_text().splitlines()]
    easy = [row for row in train if row["difficulty"] == 1.0][:3]
    problems = tmp_path / "problems.parquet"
    Dataset.from_dict(
        {
            "id": [f"t{i}-p0" for i in range(len(easy))],
            "problem": [row["problem"] for row in easy],
            "expected_answer": [row["answer"] for row in easy],
            "contaminated": [False] * len(easy),
            "post_id": [f"t{i}" for i in range(len(easy))],
        }
    ).to_parquet(problems)
    tiny = ["--set", "stages.generate_solutions.n=2", "--set", "stages.generate_solutions.max_tokens=128"]
    args = ["run", "openmathreasoning/tir", "--mode", "demo", "--set", f"source.path={problems}", *tiny]
    out = magpie(*args, "--run-dir", str(tmp_path / "runs"), "--output", str(tmp_path / "tir")).stdout
    assert "generate_solutions: code_errors" in out and "postprocess_tir_generations: tir_" in out
    judged = every_row(tmp_path / "tir", "judged")
    assert len(judged) == 3 and all(len(s) == 2 for s in judged["solver"])
    ran = sum(map(sum, judged["solver_code_executions"]))
    assert ran == int(out.split("code_executions ")[1].split(",")[0])  # the summary counts what the rows hold
    for transcript, count in zip(sum(judged["solver"], []), sum(judged["solver_code_executions"], [])):
        assert transcript.count("```output\n") >= count  # every block that ran has its output in the transcript
