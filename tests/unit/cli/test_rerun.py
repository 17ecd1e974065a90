"""A finished run's rerun: the summary a full rerun prints, no heavy library imported, the export left as it is."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from magpie_hf.cli.main import main

HEAVY = ("datasets", "pandas", "pyarrow", "torch", "transformers", "vllm", "matplotlib", "huggingface_hub")

# The rerun in a fresh process, with the scripted engine registered as the tests' `fake` backend.
CHILD = f"""
import sys
from magpie_hf.cli.main import main
from magpie_hf.engines import register_backend
from magpie_hf.engines.fake import ScriptedEngine

register_backend("fake", lambda preset: ScriptedEngine())
code = main(sys.argv[1:])
print("heavy:", [name for name in {HEAVY!r} if name in sys.modules])
sys.exit(code)
"""

RECIPE = """
name: rerun
pipeline: magpie_math
domain: algebra
count: 10
shard_size: 4
stages:
  - stage: instructions
    max_tokens: 16
  - stage: clean
outputs:
  instructions: clean
"""


def export_times(out: Path) -> dict[str, int]:
    return {str(p.relative_to(out)): p.stat().st_mtime_ns for p in out.rglob("*")}


def without_total(text: str) -> list[str]:
    """The printed lines but the total one (its seconds are the rerun's own)."""
    return [line for line in text.splitlines() if not line.startswith("total ")]


@pytest.fixture
def finished(tmp_path, scripted) -> list[str]:
    """The `run` arguments of a finished run of a two-stage recipe (its export written)."""
    _, engine = scripted
    engine.default = "What is the sum of the roots of x^2 - 5x + 6 = 0?"
    recipe = tmp_path / "rerun.yaml"
    recipe.write_text(RECIPE)
    args = [
        "run",
        str(recipe),
        "--engine",
        "fake",
        "--run-dir",
        str(tmp_path / "runs"),
        "--output",
        str(tmp_path / "out"),
    ]
    assert main(args) == 0
    return args


def test_a_finished_run_prints_the_full_reruns_summary_without_heavy_imports_or_export(
    finished, tmp_path, capsys, monkeypatch
):
    capsys.readouterr()
    with monkeypatch.context() as patched:  # the rerun as it was: every stage merged, then exported again
        patched.setattr("magpie_hf.run.finished.finished_runs", lambda *args: None)
        assert main(finished) == 0
    full = capsys.readouterr().out
    shards = [line.split()[-1] for line in full.splitlines() if line.startswith(("instructions ", "clean "))]
    assert len(shards) == 2 and all(s.startswith("0/") for s in shards) and "wrote" in full  # run/reused
    exported = export_times(tmp_path / "out")
    child = subprocess.run([sys.executable, "-c", CHILD, *finished], capture_output=True, text=True, timeout=120)
    assert child.returncode == 0, child.stderr[-2000:]
    printed, heavy = child.stdout.rsplit("heavy: ", 1)
    assert heavy.strip() == "[]"
    assert without_total(printed) == without_total(full)
    assert export_times(tmp_path / "out") == exported  # nothing re-exported


@pytest.mark.parametrize(
    "change, rewritten",
    [
        (["--set", "test_fraction=0.5"], True),  # the recipe changed, the stages did not: exported again
        (["--count", "5"], True),  # other rows: the stages run again
        (["--stages", "instructions"], True),  # another stage list: another export
        (["--verbose"], False),  # only the logging changed
    ],
)
def test_a_changed_run_is_exported_again(finished, tmp_path, change, rewritten):
    exported = export_times(tmp_path / "out")
    assert main([*finished, *change]) == 0
    assert (export_times(tmp_path / "out") != exported) == rewritten


def test_a_missing_export_file_is_written_again(finished, tmp_path):
    card = tmp_path / "out" / "README.md"
    card.unlink()
    assert main(finished) == 0
    assert card.is_file()


def test_a_finished_recipe_set_prints_every_member_and_leaves_every_export(tmp_path, scripted, capsys, monkeypatch):
    _, engine = scripted
    engine.default = "What is the sum of the roots of x^2 - 5x + 6 = 0?"
    for domain in ("algebra", "calculus"):
        (tmp_path / f"{domain}.yaml").write_text(RECIPE.replace("algebra", domain))
    (tmp_path / "both.yaml").write_text("name: both\nrecipes: [algebra.yaml, calculus.yaml]\n")
    runs, out = str(tmp_path / "runs" / "{domain}"), str(tmp_path / "out")
    args = ["run", str(tmp_path / "both.yaml"), "--engine", "fake", "--run-dir", runs, "--output", out]
    assert main(args) == 0
    exported = export_times(tmp_path)
    capsys.readouterr()
    monkeypatch.setattr(sys.modules["magpie_hf.cli.main"], "run_recipes", lambda *args: pytest.fail("a set ran"))
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "== domain algebra ==" in printed and "== domain calculus ==" in printed
    assert f"wrote {out}/README.md" in printed and f"wrote {out}_calculus/README.md" in printed
    assert export_times(tmp_path) == exported
