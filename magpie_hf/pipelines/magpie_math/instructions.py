"""Magpie instructions: the model writes the user's question itself.

The model gets only its chat prefix up to the user turn (with the recipe's
system prompt) and completes it; the completion is the problem.

Input columns: `id`.
Output columns: `problem`, `problem_tokens`, `problem_finish_reason`
(`stop` or `length`), `gen_input_configs` (provenance: model, prefix, sampling, seed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from magpie_hf.core.seeds import per_row_sampling
from magpie_hf.core.stage import stage
from magpie_hf.engines import Sampling
from magpie_hf.stages.prompting import AskSampling, generation_config

if TYPE_CHECKING:
    from magpie_hf.run.context import BoundModel


class InstructionsConfig(AskSampling):
    """Sampling for the Magpie query (the ask stages' fields, sampled by default); `system_prompt` steers the topic."""

    temperature: float = Field(default=1.0, ge=0)
    max_tokens: int = Field(default=1024, gt=0)


@stage(
    "instructions",
    config=InstructionsConfig,
    inputs=("id",),
    outputs=("problem", "problem_tokens", "problem_finish_reason", "gen_input_configs"),
    version="2",
    check_model=lambda cfg, model: model.magpie_prefix(cfg.system_prompt),  # a base model has no prefix
)
def generate_instructions(batch: dict[str, list], cfg: InstructionsConfig, model: BoundModel) -> dict[str, list]:
    """Feed only the chat prefix up to the user turn; the completion is the question.

    Generation stops at the model's end-of-turn marker (stop strings and ids
    from the preset), never at a newline, so multi-line problems stay whole.
    """
    prefix = model.magpie_prefix(cfg.system_prompt)
    base = Sampling(
        temperature=cfg.temperature,
        top_p=cfg.top_p,
        max_tokens=cfg.max_tokens,
        stop=model.stop,
        stop_token_ids=model.stop_token_ids,
    )
    sampling = per_row_sampling(base, cfg.seed, batch["id"])
    outputs = model.generate([prefix] * len(sampling), sampling, ids=batch["id"])
    completions = [out[0] for out in outputs]
    return {
        "problem": [c.text.strip() for c in completions],
        "problem_tokens": [c.num_tokens for c in completions],
        "problem_finish_reason": [c.finish_reason for c in completions],
        "gen_input_configs": [generation_config(model, prefix, s) for s in sampling],
    }

