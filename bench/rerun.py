"""A finished `make algebra` run again, whole process, against the target of 1.0 s.

Runs the Makefile target (`algebra` by default) in the repository root N times,
each a fresh `make` process, after one untimed rerun; the run must have
finished before (`make algebra` once). Prints the minimum and median wall
seconds against the target, what `make` itself takes (its `install` check,
up to date), whether the export was left untouched, and the slowest top-level
imports of one rerun (`PYTHONPROFILEIMPORTTIME`).

    python bench/rerun.py [--target algebra] [--runs 5] [--imports 8]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 1.0


def make(target: str, env: dict[str, str] | None = None) -> tuple[float, subprocess.CompletedProcess]:
    """Wall seconds of `make -s TARGET` in the repository root, and the finished process."""
    start = time.perf_counter()
    proc = subprocess.run(["make", "-s", target], cwd=ROOT, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if proc.returncode:
        raise SystemExit(f"make {target} failed:\n{proc.stderr[-2000:]}")
    return seconds, proc


def export_folder(target: str) -> Path:
    """The export the target's last `wrote` line names (its card's folder)."""
    _, proc = make(target)
    cards = [line.split()[1] for line in proc.stdout.splitlines() if line.startswith("wrote ") and "README" in line]
    if not cards:
        raise SystemExit(f"make {target} wrote no export: run it to the end first")
    return ROOT / Path(cards[-1]).parent


def slowest_imports(target: str, count: int) -> list[tuple[float, str]]:
    """The top-level modules that took longest to import in one rerun, cumulative seconds first."""
    _, proc = make(target, {**os.environ, "PYTHONPROFILEIMPORTTIME": "1"})
    found = []
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "| " in line:
            _, cumulative, name = line.split("|")
            if not name.startswith("  ") and cumulative.strip().isdigit():
                found.append((int(cumulative) / 1e6, name.strip()))
    return sorted(found, reverse=True)[:count]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="algebra", help="the Makefile target to rerun")
    parser.add_argument("--runs", type=int, default=5, help="timed reruns, each a fresh process")
    parser.add_argument("--imports", type=int, default=8, help="slowest imports to list (0: none)")
    args = parser.parse_args(argv)

    output = export_folder(args.target)  # the untimed rerun
    manifest = output / "manifest.json"
    before = manifest.stat().st_mtime_ns
    seconds = [make(args.target)[0] for _ in range(args.runs)]
    untouched = manifest.stat().st_mtime_ns == before and json.loads(manifest.read_text()).get("complete")
    overhead = min(make("install")[0] for _ in range(3))
    best, median = min(seconds), statistics.median(seconds)

    print(f"rerun of a finished `make {args.target}`: {args.runs} runs, each a fresh process")
    print(f"  min {best:.2f} s, median {median:.2f} s; target <= {TARGET_SECONDS:.1f} s: ", end="")
    print("met" if median <= TARGET_SECONDS else "NOT met")
    print(f"  make itself (`make install`, up to date): {overhead:.3f} s")
    print(f"  export {output.relative_to(ROOT)} untouched: {'yes' if untouched else 'NO'}")
    if args.imports:
        print("  slowest top-level imports of one rerun (cumulative):")
        for took, name in slowest_imports(args.target, args.imports):
            print(f"    {took:6.3f} s  {name}")


if __name__ == "__main__":
    main()
