"""GenSelect: the model picks the best of an instance's candidates; correct picks become SFT rows.

`genselect_pick` (NeMo-Skills' `label_data` and `extract_judgment`) fills the
prompt (NeMo-Skills' `openmath/genselect`) with `{problem}`, `{solutions}` (each
candidate as "Solution {i}:\\n{text}"), `{num_solutions}` and `{max_idx}`, asks
the model, and reads the pick from the reply's last `Judgment: <i>` (None when
there is none or it is past the last candidate). The run report counts the picks:
`picks_correct`, `picks_wrong`, `picks_unparseable` (replies only; a prompt that
got none is dropped by its own reason). `correct_picks` (the original's
`prepare_for_sft`) keeps the rows whose pick is a correct candidate, as SFT
`messages` (the prompt, the model's reply); the others leave as `wrong_pick` or
`unparseable_pick`.

Input columns: `id`, `candidates`, `candidate_correct`, the other `{column}` placeholders of `prompt`.
Output columns: `genselect_prompt` (the user message), `genselect_generation` (the model's whole
reply, an opened `<think>` put back), `pick` (int | None), `pick_correct` (bool | None);
then `messages` and `filter_reason`.

Example:
    - name: label_data
      stage: genselect_pick
      temperature: 0.6
      max_tokens: 16384
      prompt: "Problem: {problem}\\n\\nSolutions:\\n{solutions}\\n\\nEnd with Judgment: [IDX], IDX in 0-{max_idx}."
    - name: prepare_for_sft
      stage: correct_picks
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pydantic import Field

from magpie_hf.core.stage import Kind, StageConfig, batch_rows, fill, placeholders, stage
from magpie_hf.models.presets import Preset
from magpie_hf.stages.prompting import AskSampling, chat, completions
from magpie_hf.stages.sample import kept_text

if TYPE_CHECKING:
    from magpie_hf.run.context import BoundModel

JUDGMENT = re.compile(r"Judg[e]?ment: (\d+)")
FILLED = ("solutions", "num_solutions", "max_idx")  # placeholders made from the candidates
PICKS = ("correct", "wrong", "unparseable")


class GenSelectConfig(AskSampling):
    """The selection prompt and the sampling (NeMo-Skills' temperature 0.6)."""

    prompt: str
    temperature: float = Field(default=0.6, ge=0)
    max_tokens: int = Field(default=16384, gt=0)


def format_solutions(candidates: list[str]) -> str:
    """The candidates as NeMo-Skills' `_format_instance` writes them: "Solution {i}:\\n{text}", blank-line separated."""
    return "".join(f"Solution {i}:\n{text}\n\n" for i, text in enumerate(candidates)).rstrip("\n")


def selection_prompt(template: str, row: dict) -> str:
    """The prompt for one instance: the row's columns, and the candidates as `{solutions}`."""
    candidates = row["candidates"]
    filled = {
        "solutions": format_solutions(candidates),
        "num_solutions": len(candidates),
        "max_idx": len(candidates) - 1,
    }
    return fill(template, {**row, **filled})


def extract_judgment(text: str, max_idx: int) -> int | None:
    """The reply's last `Judgment: <i>` (or `Judgement:`); None when there is none or it is past `max_idx`."""
    found = JUDGMENT.findall(text)
    pick = int(found[-1]) if found else None
    return pick if pick is not None and pick <= max_idx else None


def pick_counts(correct: list[bool | None]) -> dict[str, int]:
    """`picks_correct`, `picks_wrong`, `picks_unparseable` of the answered rows' `pick_correct`."""
    kinds = ["correct" if ok else "wrong" if ok is False else "unparseable" for ok in correct]
    return {f"picks_{kind}": kinds.count(kind) for kind in PICKS}


@stage(
    "genselect_pick",
    config=GenSelectConfig,
    inputs=lambda c: ["id", "candidates", "candidate_correct", *(p for p in placeholders(c.prompt) if p not in FILLED)],
    outputs=("genselect_prompt", "genselect_generation", "pick", "pick_correct"),
)
def genselect_pick(batch: dict[str, list], cfg: GenSelectConfig, model: BoundModel) -> dict[str, list]:
    """Each instance's prompt, the model's reply, its pick and whether the pick is a correct candidate."""
    rows = batch_rows(batch)
    texts = [selection_prompt(cfg.prompt, row) for row in rows]
    replies = [
        kept_text(model.chat_prompt(chat(cfg.system_prompt, text)), c.text.strip(), strip_thinking=False)
        for text, c in zip(texts, completions(model, texts, batch["id"], cfg, "genselect"))
    ]
    picks = [extract_judgment(reply, len(row["candidates"]) - 1) for reply, row in zip(replies, rows)]
    correct = [None if p is None else bool(row["candidate_correct"][p]) for p, row in zip(picks, rows)]
    answered = [ok for ok, i in zip(correct, batch["id"]) if i not in model.failures]
    model.usage.counters.update(pick_counts(answered))
    return {"genselect_prompt": texts, "genselect_generation": replies, "pick": picks, "pick_correct": correct}


@stage(
    "correct_picks",
    config=StageConfig,
    kind=Kind.FILTER,
    inputs=("genselect_prompt", "genselect_generation", "pick_correct"),
    outputs=("messages", "filter_reason"),
    uses_model=False,
)
def correct_picks(batch: dict[str, list], cfg: StageConfig, model: Preset) -> dict[str, list]:
    """SFT `messages` (the prompt, the reply); rows whose pick is not a correct candidate leave."""
    messages = [
        [{"role": "user", "content": prompt}, {"role": "assistant", "content": reply}]
        for prompt, reply in zip(batch["genselect_prompt"], batch["genselect_generation"])
    ]
    reasons = [None if ok else "wrong_pick" if ok is False else "unparseable_pick" for ok in batch["pick_correct"]]
    return {"messages": messages, "filter_reason": reasons}
