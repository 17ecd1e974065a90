"""Classify: a chain of yes/no questions; each step sees only the rows every earlier step answered "no".

Input columns: `id` and the `{column}` placeholders of the steps' prompts.
Output columns: `<column>` (the first step answered "yes", else `otherwise`) and
`<column>_reply` (the raw reply of the step that decided). Every answer is counted
by where its verdict came from (`verdicts_logprobs`, `verdicts_text`,
`verdicts_undecided`; see `prompting.yes_no_verdict`) in the run report.

Example:
    - stage: classify
      column: problem_type
      steps:
        - {name: proof, prompt: "Does this problem ask for a proof? Answer Yes or No.\\n\\n{problem}"}
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from magpie_hf.core.stage import batch_rows, fill, placeholders, stage
from magpie_hf.stages.prompting import AskSampling, ask_yes_no

if TYPE_CHECKING:
    from magpie_hf.run.context import BoundModel


class ClassStep(BaseModel):
    """One question of the chain: a "yes" gives the row this class."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    prompt: str


class ClassifyConfig(AskSampling):
    """The steps in order (e.g. proof, multiple_choice, binary, invalid); rows no step claims get `otherwise`."""

    column: str = Field(default="problem_type", pattern=r"^[a-z][a-z0-9_]*$")
    steps: list[ClassStep] = Field(min_length=1)
    otherwise: str = "regular"
    max_tokens: int = Field(default=16, gt=0)


@stage(
    "classify",
    config=ClassifyConfig,
    inputs=lambda c: ["id", *dict.fromkeys(p for s in c.steps for p in placeholders(s.prompt))],
    outputs=lambda c: [c.column, f"{c.column}_reply"],
    version="2",
    requests=lambda c: len(c.steps),  # one question per step, at most
)
def classify(batch: dict[str, list], cfg: ClassifyConfig, model: BoundModel) -> dict[str, list]:
    """The class per row and the raw reply of the step that decided it."""
    rows = batch_rows(batch)
    types: list[str | None] = [None] * len(rows)
    replies: list[str] = [""] * len(rows)
    for step in cfg.steps:
        open_rows = [i for i, t in enumerate(types) if t is None]
        texts, ids = [fill(step.prompt, rows[i]) for i in open_rows], [rows[i]["id"] for i in open_rows]
        for i, (reply, yes) in zip(open_rows, ask_yes_no(model, texts, ids, cfg, step.name)):
            replies[i] = reply
            if yes:
                types[i] = step.name
    return {cfg.column: [t or cfg.otherwise for t in types], f"{cfg.column}_reply": replies}
