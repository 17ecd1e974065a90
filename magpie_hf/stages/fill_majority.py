"""Fill majority: the majority answer of a row's completions where the row has no answer of its own.

As NeMo-Skills' `fill_majority_answer` (`aggregate_answers ++mode=fill
++ignore_if_not_none=True`): a given answer stays; a row without one gets the
most common final answer among its completions (all `columns` together,
math-verify equivalence classes) when it passes the majority rule
(`min_majority_votes`, `min_majority_share`), else None. A grade stage then
judges against the filled column (`reference: answer`, `answer_column: <column>`).

Input columns: `id`, each of `columns` (lists of completions), `answer_column`.
Output columns: `<column>` (the given answer, else the majority answer, else None),
`<column>_source` (`given` / `majority` / None), `<column>_votes` (the majority's votes; 0 where given).

Example:
    - stage: fill_majority
      columns: [solver]
      answer_column: answer
      column: expected_answer
"""

from __future__ import annotations

from pydantic import Field

from magpie_hf.core.stage import stage
from magpie_hf.math.grading import extract_answer
from magpie_hf.stages.grade import MajorityRule, majority_reference


class FillMajorityConfig(MajorityRule):
    """The completion columns that vote, the column of given answers, the column written, the majority rule."""

    columns: list[str] = Field(min_length=1)
    answer_column: str = "answer"
    column: str = Field(default="expected_answer", pattern=r"^[a-z][a-z0-9_]*$")


def outputs(cfg: FillMajorityConfig) -> list[str]:
    return [cfg.column, f"{cfg.column}_source", f"{cfg.column}_votes"]


@stage(
    "fill_majority",
    config=FillMajorityConfig,
    inputs=lambda c: ["id", *c.columns, c.answer_column],
    outputs=outputs,
    uses_model=False,
)
def fill_majority(batch: dict[str, list], cfg: FillMajorityConfig, model) -> dict[str, list]:
    """Each row's given answer, else its completions' majority answer, with where it came from and its votes."""
    filled: dict[str, list] = {k: [] for k in outputs(cfg)}
    for r, given in enumerate(batch[cfg.answer_column]):
        answer, source, votes = given, "given", 0
        if not given:
            answer, votes = majority_reference([extract_answer(s) for c in cfg.columns for s in batch[c][r]], cfg)
            source = None if answer is None else "majority"
        for key, value in zip(outputs(cfg), (answer, source, votes)):
            filled[key].append(value)
    return filled
