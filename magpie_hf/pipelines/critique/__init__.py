"""Critique data (CFT): graded samples of several models become "is this solution right or wrong" rows.

Stages: `mixed_filter` and `critique` here; `sample` and `grade` come from the stage library.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from magpie_hf.core.pipeline import Pipeline, Table, register_pipeline
from magpie_hf.pipelines.critique import critique, mixed_filter  # noqa: F401  (registers)
from magpie_hf.pipelines.critique.analysis import cft_analysis, format_analysis

if TYPE_CHECKING:
    from datasets import Dataset


def critique_rows(rows: Dataset) -> Dataset:
    """verl's layout: `data_source`, `prompt` (chat list), `ability`, `reward_model`, `extra_info`, plus ids."""
    return rows.select_columns([c for c in critique.OUTPUTS if c != "filter_reason"])


def mark_split(rows: Dataset, split: str) -> Dataset:
    """verl's rows record their split (`extra_info.split`): the one the export writes them to."""
    return rows.map(lambda extra: {"extra_info": {**extra, "split": split}}, input_columns="extra_info")


PIPELINE = register_pipeline(
    Pipeline(
        name="critique",
        tables={"critique": Table("critique", critique_rows, tag="critique", mark_split=mark_split)},
        card="critique.md",
        tags=("synthetic", "math", "cft"),
        analysis=cft_analysis,
        format_analysis=format_analysis,
    )
)
