"""The interactive menu of `magpie-hf math` on a terminal, as the original `run_math_generation.sh` asks.

It asks for what the command line left out, in the original's order: the model
(0-6), the scale (default 1.0), the mode (1 all domains, 2 one, 3 several) and,
for modes 2 and 3, the domain numbers; a wrong answer is asked again.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Iterable

from magpie_hf.core.messages import add_messages, t
from magpie_hf.core.recipe import RecipeError
from magpie_hf.models.presets import PRESETS

DEFAULT_SCALE = "1.0"

add_messages(
    {
        "math_menu_title": {
            "en": "Magpie math: choose the run (Enter takes the default in [brackets])",
            "ja": "Magpie math: 生成内容を選んでください (Enter で [ ] 内の既定値)",
        },
        "math_menu_model": {"en": "Model number: ", "ja": "モデル番号: "},
        "math_menu_scale": {
            "en": "Scale, 1.0 = 44,000 problems over the six domains [{default}]: ",
            "ja": "生成倍率 (1.0 で 6 分野合計 44,000 問) [{default}]: ",
        },
        "math_menu_mode": {"en": "Mode ({modes}): ", "ja": "モード ({modes}): "},
        "math_menu_domain": {"en": "Domain ({domains}): ", "ja": "分野 ({domains}): "},
        "math_menu_domains": {
            "en": "Domains, e.g. 1 3 5 ({domains}): ",
            "ja": "分野 (複数、例: 1 3 5) ({domains}): ",
        },
        "math_menu_again": {"en": "'{answer}' is not one of the choices", "ja": "'{answer}' は選択肢にありません"},
        "math_menu_closed": {
            "en": "the menu got no answer (end of input)",
            "ja": "メニューへの入力がありません (入力の終わり)",
        },
        "math_menu_same_run": {
            "en": "the same run without the menu: {command}",
            "ja": "メニューなしで同じ実行: {command}",
        },
    }
)


def ask(prompt: str, accepts: Callable[[str], bool], default: str | None = None) -> str:
    """The first answer `accepts` takes (an empty answer is `default`); RecipeError when the input ends."""
    while True:
        try:
            answer = input(prompt).strip() or default or ""
        except EOFError:
            raise RecipeError(t("math_menu_closed")) from None
        if accepts(answer):
            return answer
        print(t("math_menu_again", answer=answer))


def is_scale(answer: str) -> bool:
    """Whether the answer is a positive number."""
    try:
        return float(answer) > 0
    except ValueError:
        return False


def domain_numbers(answer: str) -> list[str]:
    """`1 3 5` or `1,3,5` as ["1", "3", "5"]."""
    return [n for n in re.split(r"[\s,]+", answer) if n]


def ask_missing(opts: argparse.Namespace, modes: Iterable[int], domains: tuple[str, ...]) -> None:
    """Fill the model, scale, mode and domain that `opts` lacks from the user's answers, then print the same run's command.

    Args:
        opts: the parsed `math` options; None where the command line gave nothing.
        modes: the mode numbers (1 all domains, 2 one, 3 several).
        domains: the domains, numbered from 1.
    """
    print(t("math_menu_title"))
    if opts.model is None:
        numbered = sorted((p for p in PRESETS.values() if p.number), key=lambda p: int(p.number))
        print("\n".join(f"  {p.number}) {p.model_id}" for p in numbered))
        opts.model = ask(t("math_menu_model"), lambda a: a in {p.number for p in numbered})
    if opts.scale is None:
        opts.scale = float(ask(t("math_menu_scale", default=DEFAULT_SCALE), is_scale, DEFAULT_SCALE))
    if opts.math_mode is None:
        opts.math_mode = int(ask(t("math_menu_mode", modes=t("math_mode")), lambda a: a in {str(m) for m in modes}))
    choices = {str(i) for i in range(1, len(domains) + 1)}
    listed = ", ".join(f"{i} {d}" for i, d in enumerate(domains, 1))
    if opts.domain is None and opts.math_mode == 2:
        opts.domain = ask(t("math_menu_domain", domains=listed), lambda a: a in choices)
    if opts.domain is None and opts.math_mode == 3:
        answer = ask(t("math_menu_domains", domains=listed), lambda a: bool(a) and set(domain_numbers(a)) <= choices)
        opts.domain = ",".join(domain_numbers(answer))
    command = f"magpie-hf math {opts.model} {opts.scale} {opts.math_mode}" + (f" {opts.domain}" if opts.domain else "")
    print(t("math_menu_same_run", command=command), flush=True)
