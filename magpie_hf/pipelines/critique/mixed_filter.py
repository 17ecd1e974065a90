"""Keep problems the models sometimes get right and sometimes wrong; flag each model's consistency.

Input columns: `<c>_correct` for each graded column `<c>` (from the grade stage).
Output columns: per graded column `<c>`, the seed's consistency flags `<c>_all_correct`
and `<c>_all_wrong` (an undecided sample counts as wrong); and `filter_reason`
(`all_models_all_correct`, `all_models_all_incorrect`, or None).
"""

from __future__ import annotations

from pydantic import Field

from magpie_hf.core.stage import Kind, StageConfig, stage
from magpie_hf.models.presets import Preset


class MixedFilterConfig(StageConfig):
    """The graded columns, one per model."""

    columns: list[str] = Field(min_length=1)


def filter_reason(all_correct: list[bool], all_incorrect: list[bool]) -> str | None:
    """Drop only when every model is all-correct, or every model is all-incorrect."""
    if all(all_correct):
        return "all_models_all_correct"
    if all(all_incorrect):
        return "all_models_all_incorrect"
    return None


def outputs(cfg: MixedFilterConfig) -> list[str]:
    return [*(f"{c}_{flag}" for c in cfg.columns for flag in ("all_correct", "all_wrong")), "filter_reason"]


@stage(
    "mixed_filter",
    config=MixedFilterConfig,
    kind=Kind.FILTER,
    inputs=lambda c: [f"{column}_correct" for column in c.columns],
    outputs=outputs,
    version="2",
    uses_model=False,
)
def keep_mixed(batch: dict[str, list], cfg: MixedFilterConfig, model: Preset) -> dict[str, list]:
    """Each model's all-correct and all-wrong flags, and `filter_reason` per problem (None keeps it)."""
    all_correct = {c: [bool(row) and all(row) for row in batch[f"{c}_correct"]] for c in cfg.columns}
    all_wrong = {c: [not any(row) for row in batch[f"{c}_correct"]] for c in cfg.columns}
    per_row = zip(zip(*all_correct.values()), zip(*all_wrong.values()))
    return {
        **{f"{c}_all_correct": flags for c, flags in all_correct.items()},
        **{f"{c}_all_wrong": flags for c, flags in all_wrong.items()},
        "filter_reason": [filter_reason(list(right), list(wrong)) for right, wrong in per_row],
    }
