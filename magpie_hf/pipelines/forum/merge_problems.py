"""Drop the classes that have no checkable answer, and put converted proofs in place of the originals.

Input columns: `problem`, `problem_type`, the converted-proof column.
Output columns: `problem`, `original_problem`, `filter_reason` (`type_<class>`, `unconverted_proof`).
"""

from __future__ import annotations

from pydantic import Field

from magpie_hf.core.stage import Kind, StageConfig, stage
from magpie_hf.models.presets import Preset


class MergeProblemsConfig(StageConfig):
    """Which classes leave, and which column holds the converted proofs."""

    drop_types: list[str] = Field(default_factory=lambda: ["binary", "multiple_choice", "invalid"])
    proof_type: str = "proof"
    converted_column: str = "converted_problem"


@stage(
    "merge_problems",
    config=MergeProblemsConfig,
    kind=Kind.FILTER,
    inputs=lambda c: ["id", "problem", "problem_type", c.converted_column],
    outputs=("problem", "original_problem", "filter_reason"),
    uses_model=False,
)
def merge_problems(batch: dict[str, list], cfg: MergeProblemsConfig, model: Preset) -> dict[str, list]:
    """`problem` becomes the converted text for proofs (the original is kept as `original_problem`)."""
    problems, reasons = [], []
    converted = batch[cfg.converted_column]
    for problem, kind, new in zip(batch["problem"], batch["problem_type"], converted):
        reason = f"type_{kind}" if kind in cfg.drop_types else None
        if kind == cfg.proof_type and not new:
            reason = "unconverted_proof"
        problems.append(new if kind == cfg.proof_type and new else problem)
        reasons.append(reason)
    return {"problem": problems, "original_problem": batch["problem"], "filter_reason": reasons}

