"""Grading throughput: the same (gold, predicted) pairs graded with 1 worker and with every core, interleaved.

Prints pairs/s for each and the ratio. Target on a 2-core machine: >= 1.8x.

    python bench/grading.py [--pairs 2000] [--repeats 2]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import time
from importlib.metadata import version

from magpie_hf.math.grading import grade_many


def pairs(n: int, seed: int = 0) -> list[tuple[str, str]]:
    """Realistic answer pairs: fractions vs decimals, radicals, intervals, polynomials; about a third wrong."""
    r = random.Random(seed)
    out = []
    for _ in range(n):
        a, b, c = r.randint(1, 9), r.randint(2, 12), r.randint(1, 30)
        wrong = r.random() < 0.35
        kind = r.randrange(5)
        if kind == 0:
            out.append((f"\\frac{{{a}}}{{{b}}}", f"{a / b + (0.1 if wrong else 0):.6f}"))
        elif kind == 1:
            out.append((f"{a}\\sqrt{{{b}}}", f"\\sqrt{{{a * a * b + (1 if wrong else 0)}}}"))
        elif kind == 2:
            out.append((f"[{a}, {a + b}]", f"[{a}, {a + b}{')' if wrong else ']'}"))
        elif kind == 3:
            out.append((f"(x+{a})^2", f"x^2+{2 * a + (1 if wrong else 0)}x+{a * a}"))
        else:
            out.append((str(c), str(c + 1 if wrong else c)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    data = pairs(args.pairs)
    grade_many(data[:50], workers=1), grade_many(data[:50], workers=cores)  # start both pools
    seconds = {1: 0.0, cores: 0.0}
    for _ in range(args.repeats):
        for workers in (1, cores):
            start = time.perf_counter()
            grade_many(data, workers=workers)
            seconds[workers] += time.perf_counter() - start
    rate = {w: args.pairs * args.repeats / s for w, s in seconds.items()}
    print(f"cores {cores}, python {platform.python_version()}, math-verify {version('math-verify')}")
    print(f"{'workers':>8}  {'pairs/s':>8}  ratio")
    for workers in (1, cores):
        print(f"{workers:>8}  {rate[workers]:>8.0f}  {rate[workers] / rate[1]:.2f}")


if __name__ == "__main__":
    main()
