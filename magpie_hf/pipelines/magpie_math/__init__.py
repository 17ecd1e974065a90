"""Magpie math: problems written by the model itself, solutions, scored candidates, preference pairs.

Stages: `instructions` (the Magpie trick), `clean`, `rewards`, `preference`
here; `sample` and `grade` come from the stage library.
"""

from magpie_hf.core.pipeline import Pipeline, Table, register_pipeline
from magpie_hf.models.presets import complete
from magpie_hf.pipelines.magpie_math import clean, instructions, preference, rewards  # noqa: F401  (registers)
from magpie_hf.pipelines.magpie_math.banner import start_banner
from magpie_hf.pipelines.magpie_math.command import MATH
from magpie_hf.pipelines.magpie_math.cross_domain import cross_domain_duplicates
from magpie_hf.pipelines.magpie_math.tables import (
    candidates_rows,
    instructions_rows,
    plots,
    preference_rows,
    sft_rows,
)


def describe(recipe, model) -> dict:
    """The Magpie prefix the model continued, verbatim, for the manifest and the card."""
    entry = next((e for e in recipe.stage_entries() if e.stage.name == "instructions"), None)
    return {"magpie_prefix": complete(model).magpie_prefix(entry.config.system_prompt) if entry else None}


PIPELINE = register_pipeline(
    Pipeline(
        name="magpie_math",
        tables={
            "instructions": Table(
                "instructions", instructions_rows, rows="all", per_domain=False, task="question-answering"
            ),
            "sft": Table("sft", sft_rows, tag="sft"),
            "preference": Table("preference", preference_rows, tag="dpo"),
            "candidates": Table("candidates", candidates_rows, rows="stage"),
        },
        card="magpie_math.md",
        tags=("synthetic", "math", "magpie"),
        counted=("filter_reason", "pair_rule", "scorer"),
        plots=plots,
        describe=describe,
        banner=start_banner,
        commands=(MATH,),
        cross_member_duplicates=cross_domain_duplicates,
    )
)
