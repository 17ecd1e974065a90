"""Drop the classes that have no checkable answer, and put converted proofs in place of the originals.

A converted proof carries no answer (as NeMo-Skills' `merge_data`): whatever was
extracted belongs to the original proof, so its reference becomes the majority
answer of the solutions (`fill_majority_answer` in solutions.yaml).

Input columns: `problem`, `problem_type`, the converted-proof column, the answer column.
Output columns: `problem`, `original_problem`, the answer column (None for converted proofs),
`filter_reason` (`type_<class>`, `unconverted_proof`).
"""

from __future__ import annotations

from pydantic import Field

from magpie_hf.core.stage import Kind, StageConfig, stage
from magpie_hf.models.presets import Preset


class MergeProblemsConfig(StageConfig):
    """Which classes leave, and which columns hold the converted proofs and the extracted answers."""

    drop_types: list[str] = Field(default_factory=lambda: ["binary", "multiple_choice", "invalid"])
    proof_type: str = "proof"
    converted_column: str = "converted_problem"
    answer_column: str = "expected_answer"


@stage(
    "merge_problems",
    config=MergeProblemsConfig,
    kind=Kind.FILTER,
    inputs=lambda c: ["id", "problem", "problem_type", c.converted_column, c.answer_column],
    outputs=lambda c: ["problem", "original_problem", c.answer_column, "filter_reason"],
    version="2",
    uses_model=False,
)
def merge_problems(batch: dict[str, list], cfg: MergeProblemsConfig, model: Preset) -> dict[str, list]:
    """`problem` becomes the converted text for proofs (the original kept as `original_problem`), with no answer."""
    problems, answers, reasons = [], [], []
    rows = zip(batch["problem"], batch["problem_type"], batch[cfg.converted_column], batch[cfg.answer_column])
    for problem, kind, new, answer in rows:
        reason = f"type_{kind}" if kind in cfg.drop_types else None
        if kind == cfg.proof_type and not new:
            reason = "unconverted_proof"
        converted = kind == cfg.proof_type and bool(new)
        problems.append(new if converted else problem)
        answers.append(None if converted else answer)
        reasons.append(reason)
    return {
        "problem": problems,
        "original_problem": batch["problem"],
        cfg.answer_column: answers,
        "filter_reason": reasons,
    }
