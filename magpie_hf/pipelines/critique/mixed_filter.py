"""Keep problems the models sometimes get right and sometimes wrong.

Input columns: `<c>_correct` for each graded column `<c>` (from the grade stage).
Output columns: `filter_reason` (`all_models_all_correct`, `all_models_all_incorrect`, or None).
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


@stage(
    "mixed_filter",
    config=MixedFilterConfig,
    kind=Kind.FILTER,
    inputs=lambda c: [f"{column}_correct" for column in c.columns],
    outputs=("filter_reason",),
    uses_model=False,
)
def keep_mixed(batch: dict[str, list], cfg: MixedFilterConfig, model: Preset) -> dict[str, list]:
    """`filter_reason` per problem (None keeps it); an undecided sample counts as not correct."""
    flags = [batch[f"{c}_correct"] for c in cfg.columns]
    return {
        "filter_reason": [
            filter_reason(
                [bool(row[i]) and all(row[i]) for row in flags],
                [not any(row[i]) for row in flags],
            )
            for i in range(len(flags[0]))
        ]
    }
