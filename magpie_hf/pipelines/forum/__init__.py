"""Curated forum problems (after NeMo-Skills' OpenMathReasoning): extract, classify, answer, decontaminate, solve,
select (GenSelect).

Stages: `prepare_threads`, `merge_problems`, `decontaminate`, `postprocess_tir`, `correct_solutions`,
`genselect_instances`, `summarize_candidates`, `genselect_pick` and `correct_picks` here; `ask_list`,
`classify`, `ask`, `sample`, `tir` and `grade` come from the stage library.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from magpie_hf.core.pipeline import Pipeline, Table, register_pipeline
from magpie_hf.pipelines.forum import (  # noqa: F401
    correct_solutions,
    decontaminate,
    genselect,
    genselect_instances,
    merge_problems,
    postprocess_tir,
    prepare,
    summarize_candidates,
)

if TYPE_CHECKING:
    from datasets import Dataset


def as_exported(rows: Dataset) -> Dataset:
    """Rows as the stage wrote them."""
    return rows


PIPELINE = register_pipeline(
    Pipeline(
        name="forum",
        tables={
            "problems": Table("problems", as_exported, task="question-answering"),
            "sft": Table("sft", as_exported, tag="sft"),
            "judged": Table("judged", as_exported),
            "genselect": Table("genselect", as_exported, tag="sft"),
            "picks": Table("picks", as_exported),
        },
        card="forum.md",
        tags=("synthetic", "math", "openmathreasoning"),
        counted=(
            "problem_type",
            "contaminated",
            "contamination_decided_by",
            "closest_benchmark",
            "expected_answer_source",
            "judged_by",
            "filter_reason",
            "num_candidates",
        ),
    )
)
