"""`magpie-hf math MODEL SCALE MODE [DOMAIN]`: the original shell scripts' numeric form, as a `run`.

MODEL 0-6 (0 = embedded), SCALE a factor, MODE 1 = all domains, 2 = one
domain, 3 = several (DOMAIN as `1,3,5`); DOMAIN 1 algebra, 2 calculus,
3 geometry, 4 statistics, 5 number_theory, 6 discrete.
"""

from __future__ import annotations

import argparse

from magpie_hf.core.messages import t
from magpie_hf.core.pipeline import Command
from magpie_hf.core.recipe import RecipeError
from magpie_hf.core.resources import resource_dir

DOMAINS = ("algebra", "calculus", "geometry", "statistics", "number_theory", "discrete")
MATH_MODES = {1: "all", 2: "one", 3: "several"}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = t("math_epilog")
    parser.add_argument("model", help=t("math_model"))
    parser.add_argument("scale", type=float, help=t("math_scale"))
    parser.add_argument("math_mode", metavar="MODE", type=int, choices=sorted(MATH_MODES), help=t("math_mode"))
    parser.add_argument("domain", nargs="?", help=t("math_domain"))


def math_to_run(opts: argparse.Namespace) -> None:
    """`math MODEL SCALE MODE [DOMAIN]` as the equivalent `run` of the all-domains recipe."""
    numbers = [] if opts.domain is None else opts.domain.split(",")
    if opts.math_mode == 1 and numbers:
        raise RecipeError("mode 1 runs all domains: give no DOMAIN")
    if opts.math_mode == 2 and len(numbers) != 1:
        raise RecipeError("mode 2 runs one domain: give one DOMAIN number 1-6")
    if opts.math_mode == 3 and not numbers:
        raise RecipeError("mode 3 runs several domains: give DOMAIN as numbers, e.g. 1,3,5")
    try:
        domains = [DOMAINS[int(n) - 1] for n in numbers]
        if any(int(n) < 1 for n in numbers):
            raise ValueError
    except (ValueError, IndexError):
        numbered = ", ".join(f"{i} {d}" for i, d in enumerate(DOMAINS, 1))
        raise RecipeError(f"DOMAIN: '{opts.domain}' is not a domain number ({numbered})") from None
    opts.recipe = str(resource_dir("recipes") / "magpie_math" / "all_domains.yaml")
    opts.domains = ",".join(domains) or None


MATH = Command(name="math", help="math", configure=configure, to_run=math_to_run)
