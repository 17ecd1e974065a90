"""Clean Magpie problems: strip chat debris, drop what is not a usable question.

Every dropped row keeps a `filter_reason`. Row by row, so it is sharded and
checkpointed; duplicates are the `embed` and `dedup` stages' work.

Input columns: `problem`, `problem_finish_reason`.
Output columns: `problem` (cleaned), `raw_problem`, `filter_reason`.
"""

from __future__ import annotations

import re

from pydantic import Field

from magpie_hf.core.stage import Kind, StageConfig, stage
from magpie_hf.models.presets import Preset

SPECIAL_TOKEN = re.compile(r"<\|[^|>]{1,40}\|>|<｜[^｜>]{1,40}｜>|<(?:start|end)_of_turn>|</?s>|<bos>|<eos>")
ROLE_PREFIX = re.compile(
    r"^\s*(?:\*\*)?(?:user|human|student|assistant|system|question|problem|exercise|task|query|q)[ \t]*\d*[ \t]*(?:\*\*)?[ \t]*(?:[:.)\-]|\n)\s*(?:\*\*)?\s*",
    re.IGNORECASE,
)
ASKS = re.compile(
    r"\?|\b(?:find|prove|show|compute|calculate|determine|evaluate|solve|simplify|derive|express|verify|"
    r"what|how|which|why|give|let|suppose|consider|is there|are there|does|do)\b",
    re.IGNORECASE,
)


class CleanConfig(StageConfig):
    """Thresholds of each filter."""

    min_chars: int = Field(default=20, ge=0)
    max_chars: int = Field(default=4000, gt=0)
    min_letter_share: float = Field(default=0.6, ge=0, le=1)


def strip_debris(text: str) -> str:
    """Remove stray special tokens and leading role words / "Question:" labels."""
    text = SPECIAL_TOKEN.sub("", text).strip()
    previous = None
    while previous != text:
        previous, text = text, ROLE_PREFIX.sub("", text, count=1).strip()
    return text


def row_reason(text: str, finish_reason: str, cfg: CleanConfig) -> str | None:
    """Why one row is dropped on its own (None keeps it)."""
    if not text:
        return "empty"
    if finish_reason == "length":
        return "truncated"
    if len(text) < cfg.min_chars:
        return "too_short"
    if len(text) > cfg.max_chars:
        return "too_long"
    visible = [c for c in text if not c.isspace()]
    letters = sum(c.isascii() and (c.isalnum() or c in "+-*/=^()[]{}<>,.;:?!'\"$\\_|&%") for c in visible)
    if letters < cfg.min_letter_share * len(visible):
        return "garbled"
    if not ASKS.search(text):
        return "not_a_question"
    return None


@stage(
    "clean",
    config=CleanConfig,
    kind=Kind.FILTER,
    inputs=("problem", "problem_finish_reason"),
    outputs=("problem", "raw_problem", "filter_reason"),
    version="3",
    uses_model=False,
)
def clean_problems(batch: dict[str, list], cfg: CleanConfig, model: Preset) -> dict[str, list]:
    """Normalise every problem, then drop empty, truncated, too short or long, garbled and non-question ones."""
    texts = [strip_debris(t) for t in batch["problem"]]
    return {
        "problem": texts,
        "raw_problem": batch["problem"],
        "filter_reason": [row_reason(t, f, cfg) for t, f in zip(texts, batch["problem_finish_reason"])],
    }
