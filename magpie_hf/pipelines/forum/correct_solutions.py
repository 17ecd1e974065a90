"""SFT rows from the correct solutions of uncontaminated problems.

The user turn is `prompt` filled from the row (the problem by default). With
`code_executions: true` (TIR solutions, as NeMo-Skills' `add_code_execution_counts`),
the solutions `postprocess_tir` marked are skipped, each row says how many code
blocks its solution ran, and `{total_code_executions}` in the prompt is that count.

Input columns: `id`, `domain`, `problem`, `contaminated`, the `{column}` placeholders of
`prompt`, and for the graded column `<c>`: `<c>`, `<c>_correct`, `<c>_judged_by` (with
`code_executions`: `<c>_code_executions`, `<c>_tir_filter`).
Output columns (new rows): `id`, `problem_id`, `domain`, `messages`, `judged_by`, `filter_reason`
(with `code_executions`: `code_executions`).

Example:
    - stage: correct_solutions
      column: solver
      prompt: "Solve with Python where it helps ({total_code_executions} calls at most).\\n\\n{problem}"
      code_executions: true
"""

from __future__ import annotations

from magpie_hf.core.stage import Kind, StageConfig, batch_rows, fill, placeholders, stage
from magpie_hf.models.presets import Preset
from magpie_hf.stages.tir import ALLOWED


class CorrectSolutionsConfig(StageConfig):
    """The graded column (a sample or tir stage's label), the user turn's template, and whether code ran."""

    column: str = "solver"
    prompt: str = "{problem}"
    code_executions: bool = False


def inputs(cfg: CorrectSolutionsConfig) -> list[str]:
    code = [f"{cfg.column}_code_executions", f"{cfg.column}_tir_filter"] if cfg.code_executions else []
    graded = [cfg.column, f"{cfg.column}_correct", f"{cfg.column}_judged_by", *code]
    asked = [p for p in placeholders(cfg.prompt) if p != ALLOWED]
    return list(dict.fromkeys(["id", "domain", "problem", "contaminated", *asked, *graded]))


def outputs(cfg: CorrectSolutionsConfig) -> list[str]:
    code = ["code_executions"] if cfg.code_executions else []
    return ["id", "problem_id", "domain", "messages", "judged_by", *code, "filter_reason"]


@stage(
    "correct_solutions",
    config=CorrectSolutionsConfig,
    kind=Kind.EXPLODE,
    inputs=inputs,
    outputs=outputs,
    uses_model=False,
)
def correct_solutions(batch: dict[str, list], cfg: CorrectSolutionsConfig, model: Preset) -> dict[str, list]:
    """One `messages` row per correct solution; a problem with none leaves one dropped row saying why."""
    out: dict[str, list] = {k: [] for k in outputs(cfg)}
    rows = batch_rows(batch)
    for row in rows:
        solutions = zip(row[cfg.column], row[f"{cfg.column}_correct"], row[f"{cfg.column}_judged_by"])
        count = len(row[cfg.column])
        executions = row[f"{cfg.column}_code_executions"] if cfg.code_executions else [0] * count
        unfit = row[f"{cfg.column}_tir_filter"] if cfg.code_executions else [None] * count
        keep = [
            (k, solution, judge, ran)
            for k, ((solution, ok, judge), ran, why) in enumerate(zip(solutions, executions, unfit))
            if ok and why is None
        ]
        reason = "contaminated" if row["contaminated"] else (None if keep else "no_correct_solution")
        for k, solution, judge, ran in keep if reason is None else [(0, "", "none", 0)]:
            user = fill(cfg.prompt, {**row, ALLOWED: ran})
            out["id"].append(f"{row['id']}-s{k}")
            out["problem_id"].append(row["id"])
            out["domain"].append(row["domain"])
            out["messages"].append([{"role": "user", "content": user}, {"role": "assistant", "content": solution}])
            out["judged_by"].append(judge)
            out["filter_reason"].append(reason)
            if cfg.code_executions:
                out["code_executions"].append(ran)
    return out
