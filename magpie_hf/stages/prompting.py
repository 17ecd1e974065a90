"""Helpers of the generation stages: chat prompts, one engine call per batch, reply parsers, provenance.

Prompts come from recipes (`{column}` placeholders filled from the row). A
yes/no question (`ask_yes_no`) asks for the first token's logprobs and decides
from them when the server gives them, else from the reply's text; each verdict
is counted by its source in the shard's usage (`verdicts_logprobs`,
`verdicts_text`, `verdicts_undecided`), which the runner sums into the stage report.
"""

from __future__ import annotations

import math
import re
from types import MappingProxyType
from typing import TYPE_CHECKING

from pydantic import Field

from magpie_hf.core.seeds import per_row_sampling
from magpie_hf.core.stage import StageConfig
from magpie_hf.engines import Completion, Sampling
from magpie_hf.math.grading import extract_answer
from magpie_hf.models.presets import Preset, tokenizer

if TYPE_CHECKING:
    from magpie_hf.run.context import BoundModel

NOT_FOUND = re.compile(r"not\s+found|no\s+answer|not\s+mentioned|unknown", re.IGNORECASE)  # "Not found." too
PROBLEM_MARK = re.compile(r"^\s*(?:\*\*)?problem\s*\d*\s*(?:\*\*)?\s*[:.)]\s*(?:\*\*)?", re.IGNORECASE | re.MULTILINE)
NO_PROBLEMS = re.compile(r"\bno\s+problems?\b", re.IGNORECASE)
OPENS_WITH_YES_NO = re.compile(r"[ \t]*(yes|no)\b", re.IGNORECASE)
VERDICT_SOURCES = ("logprobs", "text", "undecided")
VERDICT_TOP_LOGPROBS = 5  # first-token alternatives a yes/no question asks for, besides the Yes/No token ids


class AskSampling(StageConfig):
    """Sampling shared by every stage that asks the model a question (greedy by default)."""

    system_prompt: str | None = None
    temperature: float = Field(default=0.0, ge=0)
    top_p: float = Field(default=1.0, gt=0, le=1)
    max_tokens: int = Field(default=512, gt=0)
    seed: int = 0


def chat(system_prompt: str | None, user: str) -> list[dict[str, str]]:
    """A one-turn conversation, with the system message when there is one."""
    system = [{"role": "system", "content": system_prompt}] if system_prompt else []
    return [*system, {"role": "user", "content": user}]


def completions(
    model: BoundModel, texts: list[str], ids: list[str], cfg: AskSampling, salt: str, **logprobs
) -> list[Completion]:
    """One completion per user message, through the model's chat template, in one engine call.

    `logprobs`: the `Sampling` fields asking for the first token's logprobs (none by default).
    """
    prompts = [model.chat_prompt(chat(cfg.system_prompt, t)) for t in texts]
    base = Sampling(
        temperature=cfg.temperature,
        top_p=cfg.top_p,
        max_tokens=cfg.max_tokens,
        stop=model.stop,
        stop_token_ids=model.stop_token_ids,
        **logprobs,
    )
    sampling = per_row_sampling(base, cfg.seed, ids, salt)
    return [out[0] for out in model.generate(prompts, sampling, ids=ids)]


def ask(model: BoundModel, texts: list[str], ids: list[str], cfg: AskSampling, salt: str) -> list[str]:
    """One reply per user message, through the model's chat template, in one engine call."""
    return [c.text.strip() for c in completions(model, texts, ids, cfg, salt)]


def ask_yes_no(
    model: BoundModel, texts: list[str], ids: list[str], cfg: AskSampling, salt: str
) -> list[tuple[str, bool | None]]:
    """Per yes/no question its reply and verdict (`yes_no_verdict`), in one engine call.

    The verdicts are counted by source into the shard's `model.usage.counters`
    (`verdicts_logprobs`, `verdicts_text`, `verdicts_undecided`; all three, zeros included).
    """
    asked = completions(
        model, texts, ids, cfg, salt, logprobs=VERDICT_TOP_LOGPROBS, logprob_token_ids=verdict_ids(model)
    )
    verdicts = [yes_no_verdict(c) for c in asked]
    sources = [source for _, source in verdicts]
    model.usage.counters.update({f"verdicts_{s}": sources.count(s) for s in VERDICT_SOURCES})
    return [(c.text.strip(), verdict) for c, (verdict, _) in zip(asked, verdicts)]


def verdict_ids(model: Preset) -> tuple[int, ...]:
    """Ids of the one-token spellings of Yes and No, whose logprobs a judge asks for even outside the top ones."""
    words = ("Yes", " Yes", "yes", " yes", "No", " No", "no", " no")
    encoded = [tokenizer(model).encode(w, add_special_tokens=False) for w in words]
    return tuple(dict.fromkeys(ids[0] for ids in encoded if len(ids) == 1))


def yes_share(logprobs: dict[str, float]) -> float | None:
    """P(Yes) / (P(Yes) + P(No)) over the token variants (" yes", "Yes", ...); None if neither appears."""
    mass = {"yes": 0.0, "no": 0.0}
    for token, logprob in logprobs.items():
        word = token.strip().lower()
        if word in mass:
            mass[word] += math.exp(logprob)
    total = mass["yes"] + mass["no"]
    return mass["yes"] / total if total else None


def yes_no_verdict(completion: Completion) -> tuple[bool | None, str]:
    """A reply's yes (True) or no (False), or None, and its source: `logprobs`, `text` or `undecided`.

    The first token's logprobs decide (the larger of the yes and no masses) when the
    reply opens with Yes or No: that token is then the verdict, so greedy replies keep
    the verdict their text gives (unless the spellings of the other word outweigh it).
    Otherwise (no logprobs, no yes/no among them, a tie, or a reply that opens with
    something else) the reply's first yes/no word decides.
    """
    share = yes_share(completion.first_token_logprobs) if OPENS_WITH_YES_NO.match(completion.text) else None
    if share is not None and share != 0.5:
        return share > 0.5, "logprobs"
    answer = parse_yes_no(completion.text)
    return answer, "undecided" if answer is None else "text"


def generation_config(model: Preset, template: str, sampling: Sampling) -> dict:
    """Provenance of one generated field: model, prompt template, sampling, engine."""
    return {
        "model": model.model_id,
        "revision": model.revision or model.carrier or "",
        "preset": model.name,
        "engine": model.engine,
        "template": template,
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
        "max_tokens": sampling.max_tokens,
        "n": sampling.n,
        "seed": sampling.seed if sampling.seed is not None else -1,
    }


def split_thinking(text: str) -> str:
    """The part after `</think>` (the whole text when there is no thinking block)."""
    return text.rsplit("</think>", 1)[-1].strip()


def parse_yes_no(text: str) -> bool | None:
    """The first yes/no word of a reply."""
    match = re.search(r"\b(yes|no)\b", text, re.IGNORECASE)
    return None if match is None else match.group(1).lower() == "yes"


def parse_answer(text: str) -> str | None:
    """A final answer: the boxed one if any, else the reply's first line; None for "answer not found"."""
    if not text or NOT_FOUND.search(text.splitlines()[0] if text.splitlines() else text):
        return None
    boxed = extract_answer(text)
    return boxed if boxed is not None else text.splitlines()[0].strip() or None


def parse_list(text: str) -> list[str]:
    """Items listed as "Problem 1: ...", "Problem 2: ..." (or the whole reply when unmarked)."""
    if not text.strip() or (NO_PROBLEMS.search(text) and not PROBLEM_MARK.search(text)):
        return []
    parts = [p.strip() for p in PROBLEM_MARK.split(text)]
    return [p for p in parts if p] if PROBLEM_MARK.search(text) else [text.strip()]


def parse_text(text: str) -> str | None:
    return text.strip() or None


PARSERS = MappingProxyType({"text": parse_text, "answer": parse_answer, "yes_no": parse_yes_no})
