"""The OpenAI-compatible engine against vLLM's own server on loopback, serving the embedded model folder.

No HTTP mocks: the server is `python -m vllm.entrypoints.openai.api_server` from our CPU build,
started once for this module. The forum recipe's `api-demo` mode runs through it (chat requests),
and a SIGKILLed Magpie run (raw completions) resumes without asking the server for a finished row again.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import httpx
import pytest
from datasets import load_dataset

pytestmark = pytest.mark.e2e

ALGEBRA = ("recipes/magpie_math/algebra.yaml", "--stages", "instructions", "--set", "stages.instructions.max_tokens=12")
ROWS, SHARD_SIZE = 12, 2  # 6 shards: a kill after the first leaves some done and some not


def _flags(args: dict) -> list[str]:
    """vLLM engine arguments as its server's command-line flags."""
    flags = []
    for key, value in args.items():
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            flags.append(flag if value else flag.replace("--", "--no-", 1))
        else:
            flags += [flag, str(value)]
    return flags


@pytest.fixture(scope="module")
def server(loopback_server) -> str:
    """The base URL of a vLLM server on the embedded model, with our CPU engine settings."""
    from magpie_hf.engines.vllm import _configure_cpu, _cpu_dtype
    from magpie_hf.models.carriers import smollm2_path

    args = {**_configure_cpu(2048), "dtype": _cpu_dtype(), "max_model_len": 2048, "seed": 0}
    server = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(smollm2_path())]
    with loopback_server("vLLM", [*server, *_flags(args)], "/v1/models", 300, {"VLLM_CPU_KVCACHE_SPACE": "1"}) as root:
        yield f"{root}/v1"


def _metric(base: str, name: str) -> float:
    """A counter or gauge of the server's Prometheus metrics, summed over its labels."""
    text = httpx.get(base.removesuffix("/v1") + "/metrics", timeout=10).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + "{"))


def _requests_finished(base: str) -> float:
    """Requests the server has finished, once nothing is running or waiting (a killed client's too)."""
    deadline = time.time() + 60
    while _metric(base, "vllm:num_requests_running") + _metric(base, "vllm:num_requests_waiting") > 0:
        assert time.time() < deadline
        time.sleep(0.5)
    return _metric(base, "vllm:request_success_total")


def _run(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "magpie_hf.cli", "run", *args]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_forum_api_demo_runs_through_the_server(server, tmp_path):
    before = _requests_finished(server)
    out = tmp_path / "out"
    (tmp_path / "bench.jsonl").write_text('{"problem": "What is 2 + 3?"}\n')
    bench = f"stages.decontaminate.benchmarks=[{{path: {tmp_path / 'bench.jsonl'}, column: problem}}]"
    args = ["recipes/openmathreasoning/problems.yaml", "--mode", "api-demo", "--set", f"engine.base_url={server}"]
    args += ["--set", "source.limit=4", "--set", bench]  # a proof, a multiple-choice, a yes/no and a non-problem
    args += ["--set", "stages.extract_problems.max_tokens=64", "--set", "stages.convert_proofs.max_tokens=64"]
    _run(*args, "--run-dir", str(tmp_path / "runs"), "--output", str(out))
    problems = load_dataset(str(out), "problems", split="train")
    assert len(problems) > 0 and all(p.strip() for p in problems["problem"])
    manifest = json.loads((out / "manifest.json").read_text())
    stages = {s["stage"]: s for s in manifest["stages"]}
    assert stages["extract_problems"]["requests"] == 4  # one extraction request per thread, then the rest
    assert _requests_finished(server) - before == sum(s["requests"] for s in stages.values())  # each one answered
    assert stages["extract_problems"]["generated_tokens"] > 0 and stages["extract_problems"]["prompt_tokens"] > 0
    assert manifest["models"][0]["engine"] == {
        "backend": "openai",
        "base_url": server,
        "tensor_parallel_size": 1,
        "max_model_len": 2048,
    }
    assert "engine `openai`" in (out / "README.md").read_text()


def test_a_killed_api_run_resumes_without_asking_for_a_finished_row_again(server, tmp_path, wait_for_first_shard):
    runs, out = tmp_path / "runs", tmp_path / "out"
    args = [*ALGEBRA, "--engine", "openai", "--engine-arg", f"base_url={server}", "--engine-arg", "max_concurrency=2"]
    args += ["--count", str(ROWS), "--shard-size", str(SHARD_SIZE), "--run-dir", str(runs), "--output", str(out)]
    before = _requests_finished(server)
    command = [sys.executable, "-m", "magpie_hf.cli", "run", *args]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for_first_shard(proc, runs)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    done = len(list(runs.glob("instructions-*/shard-*.done")))
    assert 0 < done < ROWS // SHARD_SIZE
    killed = _requests_finished(server)
    assert killed - before >= SHARD_SIZE * done
    _run(*args)
    assert _requests_finished(server) - killed == ROWS - SHARD_SIZE * done  # only the unfinished shards' rows
    data = load_dataset(str(out), "instructions")
    ids = sorted(i for split in data.values() for i in split["id"])
    assert ids == [f"algebra-{i:06d}" for i in range(ROWS)]
    config = next(iter(data.values()))[0]["gen_input_configs"]
    assert config["engine"] == "openai"
