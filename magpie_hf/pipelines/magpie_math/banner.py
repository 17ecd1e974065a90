"""The start banner of a Magpie math run: the model, the problems in total and per domain, as the original scripts print."""

from __future__ import annotations

from magpie_hf.core.messages import add_messages, t
from magpie_hf.core.recipe import Recipe

add_messages(
    {
        "math_banner_model": {"en": "== Magpie math == model {model}", "ja": "== Magpie math == モデル {model}"},
        "math_banner_total": {"en": "problems: {total} in total", "ja": "問題数: 合計 {total} 問"},
        "math_banner_source": {"en": "every row of its source", "ja": "ソースの全行"},
    }
)


def start_banner(recipes: list[Recipe], count: int | None) -> str:
    """Two lines: the model (its preset number too), then the problems in total and per domain (`count` overrides each)."""
    preset = recipes[0].preset()
    model = f"{preset.number} {preset.model_id}" if preset.number else preset.model_id
    rows = {recipe.domain: recipe.rows(count) for recipe in recipes}
    known = sum(n for n in rows.values() if n is not None)
    total = f"{known:,}" + ("+" if None in rows.values() else "")
    per_domain = ", ".join(f"{d} {t('math_banner_source') if n is None else f'{n:,}'}" for d, n in rows.items())
    return "\n".join([t("math_banner_model", model=model), f"{t('math_banner_total', total=total)} ({per_domain})"])
