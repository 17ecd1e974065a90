"""`plan` and the model check before a run, through the CLI as a user on an air-gapped cluster runs them.

Every Hub request goes to loopback: HF_HUB_OFFLINE, or HF_ENDPOINT at the
tests' fake Hub (`fake_hub`). Nothing here loads a model.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]  # recipes name ../shared/ from the checkout
# Runs the CLI, then says whether a model library was imported (plan must load none).
CLI = """
import sys
from magpie_hf.cli.main import main
code = main(sys.argv[1:])
print("imported:", sorted(m for m in ("vllm", "torch") if m in sys.modules))
sys.exit(code)
"""


def cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """`magpie-hf ARGS` in a child with an empty Hub cache and no token; `env` on top."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING_FACE_"))}
    base |= {"HF_HOME": str(tmp_path / "hf"), "HF_HUB_CACHE": str(tmp_path / "hf" / "hub"), "NO_PROXY": "127.0.0.1"}
    return subprocess.run(
        [sys.executable, "-c", CLI, *args], env=base | env, capture_output=True, text=True, timeout=120, cwd=ROOT
    )


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_run_without_a_network_stops_before_any_stage_in_one_line(tmp_path):
    proc = cli(tmp_path, "run", "cft/critique", "--run-dir", str(tmp_path / "runs"), HF_HUB_OFFLINE="1")
    error = one_line_error(proc)
    assert "stages.model_a: model Qwen/Qwen2.5-Math-7B: the Hugging Face Hub cannot be reached" in error
    assert "`hf download Qwen/Qwen2.5-Math-7B`" in error and "local model folder" in error
    assert not (tmp_path / "runs").exists()  # no stage started


@pytest.mark.parametrize(
    ("model", "says"),
    [
        ("acme/missing", "model acme/missing does not exist on the Hub (misspelled?"),
        ("acme/gated", "model acme/gated is gated: accept its licence at"),
    ],
)
def test_a_misspelled_or_gated_model_stops_the_run_in_one_line(tmp_path, fake_hub, model, says):
    runs = tmp_path / "runs"
    proc = cli(tmp_path, "run", "magpie_math/algebra", "--model", model, "--run-dir", str(runs), HF_ENDPOINT=fake_hub)
    error = one_line_error(proc)
    assert says in error and ("HF_TOKEN" in error)
    assert not runs.exists()


def test_plan_names_the_models_it_cannot_reach_and_still_plans(tmp_path):
    proc = cli(tmp_path, "plan", "cft/critique", "--run-dir", str(tmp_path / "runs"), HF_HUB_OFFLINE="1")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "model_a" in out and "2,000" in out  # the source's rows, exact for the first stage
    assert "load engine (unreachable)  model_a  Qwen/Qwen2.5-Math-7B" in out
    assert "release engine             model_b  Qwen/Qwen2.5-Math-7B" in out  # one engine at a time
    assert "unreachable: model Qwen/Qwen3-4B-Base: the Hugging Face Hub cannot be reached" in out
    assert "imported: []" in out


def test_plan_of_the_production_run_is_quick_and_shows_the_seed_sizing(tmp_path):
    start = time.perf_counter()
    proc = cli(tmp_path, "plan", "magpie_math/all_domains", "--model", "1", "--scale", "1.0", "--gpus", "1", HF_HUB_OFFLINE="1")
    seconds = time.perf_counter() - start
    assert proc.returncode == 0, proc.stderr
    assert seconds < 5, f"plan took {seconds:.1f} s"
    lines = proc.stdout.splitlines()
    first = lines.index("plan for magpie_math_algebra")
    algebra = lines[first : lines.index("plan for magpie_math_calculus")]
    assert any(line.startswith("instructions  10,000") for line in algebra)  # 10K problems at scale 1.0
    steps = [line.split()[:2] + [line.split("  ")[-1]] for line in algebra if line.startswith(("load", "release"))]
    engine = next(line for line in algebra if "DeepSeek-R1-Distill-Qwen-32B  cuda:0 " in line)
    assert "tensor_parallel_size 1, gpu_memory_utilization 0.95, max_model_len 8192" in engine  # one GPU, as the seed
    kinds = [" ".join(step[:2]) for step in steps]
    release = max(i for i, k in enumerate(kinds) if k == "release engine" and i < kinds.index("load scorer"))
    assert kinds[release + 1] == "load scorer"  # ArmoRM loads right after the engine is released
    assert "RLHFlow/ArmoRM-Llama3-8B-v0.1" in algebra[[i for i, l in enumerate(algebra) if l.startswith("load scorer")][0]]
    assert "imported: []" in proc.stdout


def test_plan_takes_the_errors_run_gives(tmp_path):
    proc = cli(tmp_path, "plan", "magpie_math/algebra", "--stages", "nope")
    assert "--stages: 'nope' is not a stage" in one_line_error(proc)
