"""`magpie-hf math MODEL SCALE MODE [DOMAIN]`: the original shell scripts' numeric form, as a `run`.

MODEL 0-6 (0 = embedded), SCALE a factor, MODE 1 = all domains, 2 = one
domain, 3 = several (DOMAIN as `1,3,5`); DOMAIN 1 algebra, 2 calculus,
3 geometry, 4 statistics, 5 number_theory, 6 discrete. On a terminal, a menu
asks for what is left out (`menu.py`); elsewhere a missing MODEL, SCALE or MODE
is a usage error (exit 2).
"""

from __future__ import annotations

import argparse
import sys
from types import MappingProxyType

from magpie_hf.core.messages import add_messages, t
from magpie_hf.core.pipeline import Command
from magpie_hf.core.recipe import RecipeError
from magpie_hf.core.resources import resource_dir
from magpie_hf.pipelines.magpie_math.menu import ask_missing

DOMAINS = ("algebra", "calculus", "geometry", "statistics", "number_theory", "discrete")
MATH_MODES = MappingProxyType({1: "all", 2: "one", 3: "several"})

add_messages(
    {
        "math": {
            "en": "the original scripts' numeric form: MODEL SCALE MODE [DOMAIN]",
            "ja": "従来スクリプトと同じ数値指定: MODEL SCALE MODE [DOMAIN]",
        },
        "math_epilog": {
            "en": (
                "MODEL: 0 embedded (default model, runs on CPU), 1 DeepSeek-R1-Distill-Qwen-32B, "
                "2 DeepSeek-R1-Distill-Llama-70B, 3 DeepSeek-R1-0528 (FP4), 4 gemma-3-27b-it, "
                "5 Qwen2.5-Math-72B-Instruct, 6 Qwen2.5-Coder-32B-Instruct. "
                "SCALE: multiplies each domain's problem count (1.0 = 44,000 problems in total). "
                "MODE: 1 all six domains, 2 one domain (DOMAIN), 3 several domains (DOMAIN as 1,3,5). "
                "DOMAIN: 1 algebra, 2 calculus, 3 geometry, 4 statistics, 5 number_theory, 6 discrete. "
                "Example: 'magpie-hf math 1 0.5 2 2' runs model 1 at scale 0.5 on calculus."
            ),
            "ja": (
                "MODEL: 0 embedded (既定モデル、CPU で動作)、1 DeepSeek-R1-Distill-Qwen-32B、"
                "2 DeepSeek-R1-Distill-Llama-70B、3 DeepSeek-R1-0528 (FP4)、4 gemma-3-27b-it、"
                "5 Qwen2.5-Math-72B-Instruct、6 Qwen2.5-Coder-32B-Instruct。"
                "SCALE: 各分野の問題数に掛ける倍率 (1.0 で合計 44,000 問)。"
                "MODE: 1 全 6 分野、2 1 分野 (DOMAIN で指定)、3 複数分野 (DOMAIN を 1,3,5 のように指定)。"
                "DOMAIN: 1 代数 algebra、2 解析 calculus、3 幾何 geometry、4 統計 statistics、"
                "5 整数論 number_theory、6 離散数学 discrete。"
                "例: 'magpie-hf math 1 0.5 2 2' はモデル 1、倍率 0.5 で解析 (calculus) を生成します。"
            ),
        },
        "math_model": {"en": "model number 0-6 (see below)", "ja": "モデル番号 0-6 (下記参照)"},
        "math_scale": {"en": "scale factor, e.g. 0.5", "ja": "倍率 (例: 0.5)"},
        "math_mode": {"en": "1 all domains, 2 one domain, 3 several", "ja": "1 全分野、2 1 分野、3 複数分野"},
        "math_domain": {"en": "domain number(s) for modes 2 and 3", "ja": "モード 2・3 で使う分野番号"},
        "math_no_terminal": {
            "en": "give MODEL SCALE MODE [DOMAIN] (with none of them on a terminal, a menu asks)",
            "ja": "MODEL SCALE MODE [DOMAIN] を指定してください (端末で省略すると対話メニューで選べます)",
        },
    }
)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = t("math_epilog")
    parser.add_argument("model", nargs="?", help=t("math_model"))
    parser.add_argument("scale", nargs="?", type=float, help=t("math_scale"))
    parser.add_argument(
        "math_mode", nargs="?", metavar="MODE", type=int, choices=sorted(MATH_MODES), help=t("math_mode")
    )
    parser.add_argument("domain", nargs="?", help=t("math_domain"))
    parser.set_defaults(math_parser=parser)  # for the usage error off a terminal


def math_to_run(opts: argparse.Namespace) -> None:
    """`math MODEL SCALE MODE [DOMAIN]` as the equivalent `run` of the all-domains recipe.

    What the command line leaves out, a menu asks on a terminal; elsewhere a missing MODEL, SCALE or
    MODE prints the usage and exits 2.
    """
    left_out = None in (opts.model, opts.scale, opts.math_mode) or (opts.math_mode != 1 and opts.domain is None)
    if left_out and sys.stdin.isatty():
        ask_missing(opts, MATH_MODES, DOMAINS)
    if None in (opts.model, opts.scale, opts.math_mode):
        opts.math_parser.error(t("math_no_terminal"))
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
