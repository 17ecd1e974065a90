"""Ask: a templated question to the model per row, its parsed reply in a column.

Input columns: `id`, the `{column}` placeholders of `prompt`, and the `only_if` columns.
Output columns: `<column>` (the parsed reply: text, an answer, or yes/no; None
where the row was not asked or nothing was found) and `<column>_raw` (the reply).
A yes/no reply is read from the first token's logprobs when the server gives
them, else from the text, and counted by source in the run report
(`verdicts_logprobs`, `verdicts_text`, `verdicts_undecided`).

Example:
    - stage: ask
      column: expected_answer
      parse: answer
      prompt: "What final answer does this discussion reach?\\n\\n{discussion}"
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from magpie_hf.core.stage import batch_rows, fill, placeholders, stage
from magpie_hf.stages.prompting import PARSERS, AskSampling, ask, ask_yes_no

if TYPE_CHECKING:
    from magpie_hf.run.context import BoundModel


class AskConfig(AskSampling):
    """`column` names the output column; `only_if` limits the question to rows whose columns hold those values."""

    column: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    prompt: str
    parse: Literal["text", "answer", "yes_no"] = "text"
    only_if: dict[str, list] = Field(default_factory=dict)


@stage(
    "ask",
    config=AskConfig,
    version="2",  # "Not found." is no answer (it was read as the answer "Not found.")
    inputs=lambda c: ["id", *placeholders(c.prompt), *c.only_if],
    outputs=lambda c: [c.column, f"{c.column}_raw"],
)
def ask_rows(batch: dict[str, list], cfg: AskConfig, model: BoundModel) -> dict[str, list]:
    """The parsed reply and the raw reply of every asked row."""
    rows = batch_rows(batch)
    asked = [i for i, row in enumerate(rows) if all(row.get(c) in v for c, v in cfg.only_if.items())]
    texts, ids = [fill(cfg.prompt, rows[i]) for i in asked], [rows[i]["id"] for i in asked]
    if cfg.parse == "yes_no":
        answers = ask_yes_no(model, texts, ids, cfg, cfg.column)
    else:
        answers = [(reply, PARSERS[cfg.parse](reply)) for reply in ask(model, texts, ids, cfg, cfg.column)]
    raw: list[str | None] = [None] * len(rows)
    parsed: list = [None] * len(rows)
    for i, (reply, value) in zip(asked, answers):
        raw[i], parsed[i] = reply, value
    return {cfg.column: parsed, f"{cfg.column}_raw": raw}
