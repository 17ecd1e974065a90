"""SFT rows from the correct solutions of uncontaminated problems.

Input columns: `id`, `domain`, `problem`, `contaminated`, and for the graded
column `<c>`: `<c>`, `<c>_correct`, `<c>_judged_by`.
Output columns (new rows): `id`, `problem_id`, `domain`, `messages`, `judged_by`, `filter_reason`.
"""

from __future__ import annotations

from magpie_hf.core.stage import Kind, StageConfig, stage
from magpie_hf.models.presets import Preset


class CorrectSolutionsConfig(StageConfig):
    """The graded column (a sample stage's label)."""

    column: str = "solver"


OUTPUTS = ("id", "problem_id", "domain", "messages", "judged_by", "filter_reason")


@stage(
    "correct_solutions",
    config=CorrectSolutionsConfig,
    kind=Kind.EXPLODE,
    inputs=lambda c: ["id", "domain", "problem", "contaminated", c.column, f"{c.column}_correct", f"{c.column}_judged_by"],
    outputs=OUTPUTS,
    uses_model=False,
)
def correct_solutions(batch: dict[str, list], cfg: CorrectSolutionsConfig, model: Preset) -> dict[str, list]:
    """One `messages` row per correct solution; a problem with none leaves one dropped row saying why."""
    out: dict[str, list] = {k: [] for k in OUTPUTS}
    for i, problem_id in enumerate(batch["id"]):
        keep = [
            (k, solution, judge)
            for k, (solution, ok, judge) in enumerate(
                zip(
                    batch[cfg.column][i],
                    batch[f"{cfg.column}_correct"][i],
                    batch[f"{cfg.column}_judged_by"][i],
                )
            )
            if ok
        ]
        reason = "contaminated" if batch["contaminated"][i] else (None if keep else "no_correct_solution")
        for k, solution, judge in keep if reason is None else [(0, "", "none")]:
            out["id"].append(f"{problem_id}-s{k}")
            out["problem_id"].append(problem_id)
            out["domain"].append(batch["domain"][i])
            out["messages"].append(
                [{"role": "user", "content": batch["problem"][i]}, {"role": "assistant", "content": solution}]
            )
            out["judged_by"].append(judge)
            out["filter_reason"].append(reason)
    return out

