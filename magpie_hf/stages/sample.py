"""Sample: n solutions (or any completions) per row from one model, in one request each (vLLM's `n`).

One entry per model (each with its own `label`), so a production run loads one
large model at a time. Always writes lists, so every consumer (grade,
rewards, preference, critique) reads `n` = 1 and `n` > 1 alike.

Input columns: the `{column}` placeholders of `prompt` (default `{problem}`), and `id`.
Output columns (`<label>` is the entry's label):
    <label>: list[str], the completions: the model's whole turn, thinking included (a `<think>` the
        chat template opened is put back in front), or with `strip_thinking` the part after `</think>`.
    <label>_finish_reasons: list[str], `stop` or `length` (cut off by max_tokens).
    <label>_tokens: list[int], generated tokens per completion.
    <label>_config: provenance (model, template, sampling, seed).

Example:
    - stage: sample
      label: candidates
      n: 5
      temperature: 0.8
      prompt: "{problem}\\n\\nPlease reason step by step, and put your final answer within \\\\boxed{}."
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pydantic import Field, field_validator

from magpie_hf.core.seeds import per_row_sampling
from magpie_hf.core.stage import StageConfig, batch_rows, fill, placeholders, stage
from magpie_hf.engines import Sampling
from magpie_hf.models.presets import known_model
from magpie_hf.stages.prompting import chat, generation_config, split_thinking

if TYPE_CHECKING:
    from magpie_hf.run.context import BoundModel

STEP_BY_STEP = "{problem}\n\nPlease reason step by step, and put your final answer within \\boxed{}."
OPENED_THINKING = re.compile(r"<think>\s*$")


class SampleConfig(StageConfig):
    """Which model (a preset, Hub id or folder; default the recipe's), how many completions, the prompt, the sampling."""

    label: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    model: str | None = None
    n: int = Field(default=1, ge=1)
    prompt: str = STEP_BY_STEP
    system_prompt: str | None = None
    temperature: float = Field(default=0.0, ge=0)
    top_p: float = Field(default=1.0, gt=0, le=1)
    max_tokens: int = Field(default=4096, gt=0)
    strip_thinking: bool = False  # off: completions keep the reasoning (answers are read after `</think>` anyway)
    seed: int = 0

    @field_validator("model")
    @classmethod
    def _known_model(cls, value: str | None) -> str | None:
        return value if value is None else known_model(value)


def kept_text(prompt: str, completion: str, strip_thinking: bool) -> str:
    """What a row keeps of a completion: the model's whole turn, a `<think>` the prompt ends with (R1, QwQ
    templates) put back in front; with `strip_thinking`, only the part after `</think>`."""
    if strip_thinking:
        return split_thinking(completion)
    opened = OPENED_THINKING.search(prompt)
    return opened.group() + completion if opened else completion


def outputs(cfg: SampleConfig) -> list[str]:
    return [cfg.label, f"{cfg.label}_finish_reasons", f"{cfg.label}_tokens", f"{cfg.label}_config"]


def sample_requests(
    batch: dict[str, list], cfg: SampleConfig, model: BoundModel, values: dict | None = None, stop: tuple[str, ...] = ()
) -> tuple[list[str], list[Sampling], str]:
    """Per row its chat prompt and seeded sampling (`cfg.n` completions), and the prompt template as rendered.

    Args:
        values: placeholder values shared by every row (the row's columns win).
        stop: stop strings besides the model's own.
    """
    rows = [{**(values or {}), **row} for row in batch_rows(batch)]
    prompts = [model.chat_prompt(chat(cfg.system_prompt, fill(cfg.prompt, row))) for row in rows]
    base = Sampling(
        n=cfg.n,
        temperature=cfg.temperature,
        top_p=cfg.top_p,
        max_tokens=cfg.max_tokens,
        stop=(*model.stop, *stop),
        stop_token_ids=model.stop_token_ids,
    )
    template = model.chat_prompt(chat(cfg.system_prompt, fill(cfg.prompt, values or {}))) if rows else cfg.prompt
    return prompts, per_row_sampling(base, cfg.seed, batch["id"], salt=cfg.label), template


@stage("sample", config=SampleConfig, version="2", inputs=lambda c: ["id", *placeholders(c.prompt)], outputs=outputs)
def sample(batch: dict[str, list], cfg: SampleConfig, model: BoundModel) -> dict[str, list]:
    """`cfg.n` completions per row from a single request each; columns are prefixed with the label.

    `model` is the entry's own (`cfg.model`) when it names one: the runner resolves it.
    """
    prompts, sampling, template = sample_requests(batch, cfg, model)
    outs = model.generate(prompts, sampling, ids=batch["id"])
    return {
        cfg.label: [[kept_text(p, c.text, cfg.strip_thinking) for c in o] for p, o in zip(prompts, outs)],
        f"{cfg.label}_finish_reasons": [[c.finish_reason for c in o] for o in outs],
        f"{cfg.label}_tokens": [[c.num_tokens for c in o] for o in outs],
        f"{cfg.label}_config": [generation_config(model, template, s) for s in sampling],
    }
