"""The CLI on a model that is not a preset: a local folder of a chat model."""

from __future__ import annotations

import json
import subprocess
import sys

from datasets import load_dataset


def magpie_hf(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "magpie_hf.cli", *args], capture_output=True, text=True, timeout=1200)


def test_algebra_runs_end_to_end_on_a_local_model_folder(second_model, tmp_path):
    small = [
        "--set", "stages.instructions.max_tokens=48",
        "--set", "stages.instructions.temperature=0.7",
        "--set", "stages.response.max_tokens=24",
        "--set", "stages.candidates.max_tokens=24",
        "--set", "stages.candidates.n=3",
        "--set", "stages.rewards.scorer=judge",  # no reward model ships with the package
    ]  # fmt: skip
    proc = magpie_hf(
        "run", "recipes/magpie_math/algebra.yaml", "--model", str(second_model), "--engine-arg", "max_model_len=2048",
        "--count", "6", "--run-dir", str(tmp_path / "run"), "--output", str(tmp_path / "out"), *small,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "model second-model: chat template derived, prefix '<|im_start|><｜User｜>'" in proc.stdout
    assert "stops at '<｜Assistant｜>' (ids 2)" in proc.stdout
    problems = load_dataset(str(tmp_path / "out"), "instructions", split="train")
    assert all("<｜Assistant｜>" not in p for p in problems["problem"])
    assert problems[0]["gen_input_configs"]["model"] == str(second_model)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    prefix = manifest["magpie_prefix"]  # R1's format: BOS, the system prompt, the user marker
    assert prefix.startswith("<|im_start|>You are a professor") and prefix.endswith("answer.<｜User｜>")
    assert (
        manifest["models"][0]["chat_template"] == "derived" and manifest["models"][0]["engine"]["max_model_len"] == 2048
    )
    card = (tmp_path / "out" / "README.md").read_text()
    assert "chat template derived" in card
