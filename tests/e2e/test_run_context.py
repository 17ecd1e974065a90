"""Two runs in one process each get their own engine, and neither leaves one behind (vLLM's engine processes on).

The runs go through the public `run_recipe` in a child process with vLLM's
default multiprocessing, as a notebook user has it: the engine core is a
process of its own, so "released" is visible from outside.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import json, sys
import psutil
from magpie_hf.core.recipe import Recipe
from magpie_hf.run.job import run_recipe

# Children that live as long as this process, by design: the reaper (engines/reaper.py) and multiprocessing's
# resource tracker.
KEPT = ("psutil.Process(int(sys.argv[1]))", "multiprocessing.resource_tracker")

def engine_processes():
    alive = []
    for p in psutil.Process().children(recursive=True):
        try:
            command = " ".join(p.cmdline())
            if p.status() != psutil.STATUS_ZOMBIE and not any(k in command for k in KEPT):
                alive.append(command[:120])
        except psutil.NoSuchProcess:
            pass
    return alive

out = []
for n, length in enumerate((1024, 1536)):
    recipe = Recipe(
        name=f"run{n}", domain="algebra", count=2, seed=n, engine={"max_model_len": length},
        run_dir=f"{sys.argv[1]}/run{n}", output=f"{sys.argv[1]}/out{n}",
        stages=[{"stage": "instructions", "max_tokens": 16}],
    )
    run = run_recipe(recipe)
    out.append({
        "loads": [(e["event"], e["kind"]) for e in run.info["model_loads"]],
        "max_model_len": run.info["models"][0]["engine"]["max_model_len"],
        "rows": len(run.result.datasets["instructions"]),
        "left": engine_processes(),
    })
print("RESULT " + json.dumps(out))
"""


def test_two_runs_with_different_context_lengths_load_two_engines_and_release_both(tmp_path):
    env = {**os.environ, "VLLM_ENABLE_V1_MULTIPROCESSING": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)], env=env, capture_output=True, text=True, timeout=600,
        cwd=Path(__file__).parents[2],
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(next(line for line in proc.stdout.splitlines() if line.startswith("RESULT "))[7:])
    assert [r["max_model_len"] for r in result] == [1024, 1536]
    for run in result:
        assert run["loads"] == [["load", "engine"]]  # its own engine (the manifest is written before the run ends)
        assert run["rows"] > 0
        assert run["left"] == [], run["left"]  # released on return: no EngineCore process left
