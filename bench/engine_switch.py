"""Peak memory of a two-model recipe against a one-model one, measured side by side.

The same critique recipe (two sample stages, grade, mixed filter, critique)
runs twice, each in a fresh process with the engine in-process: once with
both sample stages on the embedded model (one engine), once with the second
on a "second model" (the embedded weights with DeepSeek-R1-Distill-Qwen's chat
template), so the run loads one engine, shuts it down, and loads another.
Prints each run's peak RSS and the ratio; the target is <= ~1.3 (the first
engine's memory is released before the second loads).

    python bench/engine_switch.py [--problems 8] [--max-tokens 64]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from magpie_hf.models.carriers import embedded_with_template

TEMPLATE = Path(__file__).resolve().parents[2] / "shared/fixtures/chat_templates/deepseek-ai__DeepSeek-R1-Distill-Qwen-32B.json"
CHILD = "import json, sys; from magpie_hf import run_recipe; run_recipe(sys.argv[1], **json.loads(sys.argv[2]))"


def recipe(folder: Path, problems: int, max_tokens: int, second: str) -> Path:
    """A critique recipe over `problems` easy training problems, its second sample stage on `second`."""
    sample = {"stage": "sample", "n": 2, "temperature": 0.8, "max_tokens": max_tokens}
    spec = {
        "name": "engine_switch",
        "pipeline": "critique",
        "domain": "math",
        "source": {
            "path": str(Path(__file__).resolve().parents[2] / "shared/data/train/math_train_2k.jsonl"),
            "columns": {"problem": "problem", "answer": "answer"},
            "limit": problems,
        },
        "run_dir": str(folder / "run"),
        "output": str(folder / "out"),
        "stages": [
            {**sample, "label": "model_a", "model": "embedded"},
            {**sample, "label": "model_b", "model": second},
            {"stage": "grade", "columns": ["model_a", "model_b"], "reference": "answer"},
            {"stage": "mixed_filter", "columns": ["model_a", "model_b"]},
            {"stage": "critique", "columns": ["model_a", "model_b"], "per_problem": 2},
        ],
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "recipe.yaml"
    path.write_text(json.dumps(spec))  # JSON is YAML
    return path


def peak_rss(path: Path) -> tuple[float, float]:
    """Peak RSS (GiB) and seconds of one run of the recipe in a fresh process."""
    env = {**os.environ, "VLLM_ENABLE_V1_MULTIPROCESSING": "0"}
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(path), "{}"], env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"the run of {path} failed (status {status})")
    return usage.ru_maxrss / 2**20, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=64)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        second = embedded_with_template(root / "second-model", TEMPLATE)
        one = recipe(root / "one", args.problems, args.max_tokens, "embedded")
        two = recipe(root / "two", args.problems, args.max_tokens, str(second))
        (rss_one, s_one), (rss_two, s_two) = peak_rss(one), peak_rss(two)
    print(f"one model  (one engine):           peak RSS {rss_one:.2f} GiB, {s_one:.0f} s")
    print(f"two models (engine shut, reloaded): peak RSS {rss_two:.2f} GiB, {s_two:.0f} s")
    print(f"ratio two/one: {rss_two / rss_one:.2f} (target <= 1.3)")


if __name__ == "__main__":
    main()
