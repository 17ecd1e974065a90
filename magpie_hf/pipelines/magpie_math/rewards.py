"""Reward scores for every candidate.

`scorer: reward_model` scores with a sequence-classification reward model
(`magpie_hf.models.reward_model`, data-parallel under `accelerate launch`). `scorer: judge` asks the generating LLM itself whether a solution is correct
and scores P(Yes) / (P(Yes) + P(No)) from its next-token distribution. With the
135M embedded model this is weak (P(Yes) is ~0.14-0.20 for right and wrong
answers alike): it keeps the pipeline whole on any machine, it does not rank.
Use a trained reward model in production.

The reward model reads each (problem, whole candidate) conversation up to its
`max_length` tokens; a longer one is scored on its first `max_length` tokens and
counted in `reward_truncated` (per row; the run sums it into the manifest and the card).

Input columns: `problem`, `candidates` (lists of solutions).
Output columns: `candidate_scores` (a list per row), `reward_truncated` (counted), `scorer`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from magpie_hf.core.stage import StageConfig, stage
from magpie_hf.engines import Sampling
from magpie_hf.models.reward_model import (
    DEFAULT_REWARD_MODEL,
    candidate_conversations,
    regroup,
    score_distributed,
)
from magpie_hf.stages.prompting import verdict_ids, yes_share

if TYPE_CHECKING:
    from magpie_hf.run.context import BoundModel

JUDGE_PROMPT = (
    "Here is a math problem and a proposed solution.\n\nProblem:\n{problem}\n\nSolution:\n{solution}\n\n"
    "Is the solution correct? Answer with Yes or No."
)


class RewardsConfig(StageConfig):
    """Which scorer; the reward model and its limits, or the judge's prompt (with `{problem}` and `{solution}`)."""

    scorer: Literal["judge", "reward_model"] = "reward_model"
    reward_model: str = DEFAULT_REWARD_MODEL
    # ArmoRM's context: a problem (<= 1,024 tokens) and a whole candidate (<= 4,096, thinking included) fit.
    max_length: int = Field(default=8192, gt=0)
    batch_size: int = Field(default=8, gt=0)
    judge_prompt: str = JUDGE_PROMPT
    top_logprobs: int = Field(default=20, gt=1)


def yes_probability(logprobs: dict[str, float]) -> float:
    """P(Yes) / (P(Yes) + P(No)) over the token variants (" yes", "Yes", ...); 0.5 if neither appears."""
    share = yes_share(logprobs)
    return 0.5 if share is None else share


THINK_OPEN, THINK_CLOSED = "<think>\n", "<think>\n\n</think>\n\n"


def verdict_prompt(prompt: str, reasoning: bool) -> str:
    """The judge prompt with any thinking block already closed, so the first generated token is the verdict.

    Reasoning templates (R1, QwQ) open `<think>` after the assistant marker, or
    the model writes it first; either way its first token is no Yes/No. An
    empty, closed block in the prompt skips the thinking.
    """
    if prompt.endswith(THINK_OPEN):
        return prompt + "\n</think>\n\n"
    return prompt + THINK_CLOSED if reasoning else prompt


def judge_scores(conversations: list[list[dict]], cfg: RewardsConfig, model: BoundModel, ids: list[str]) -> list[float]:
    """The generating LLM's P(Yes) for each (problem, solution) of the rows `ids`, in one engine call."""
    prompts = [
        verdict_prompt(
            model.chat_prompt(
                [{"role": "user", "content": cfg.judge_prompt.format(problem=c[0]["content"], solution=c[1]["content"])}]
            ),
            model.reasoning,
        )
        for c in conversations
    ]
    judge = Sampling(temperature=0.0, max_tokens=1, logprobs=cfg.top_logprobs, logprob_token_ids=verdict_ids(model))
    outs = model.generate(prompts, judge, ids=ids)
    return [yes_probability(out[0].first_token_logprobs) for out in outs]


@stage(
    "rewards",
    config=RewardsConfig,
    inputs=("id", "problem", "candidates"),
    outputs=("candidate_scores", "reward_truncated", "scorer"),
    version="3",
    counters=("reward_truncated",),
    uses_model=lambda c: c.scorer == "judge",
    loads=lambda c: [("scorer", c.reward_model)] if c.scorer == "reward_model" else [],
)
def score_candidates(batch: dict[str, list], cfg: RewardsConfig, model: BoundModel) -> dict[str, list]:
    """A list of scores per row, one per candidate; all candidates of the batch in one pass (no rows load no model)."""
    conversations, owners = candidate_conversations(batch["problem"], batch["candidates"])
    rows = len(batch["id"])
    values, truncated = [], []
    if cfg.scorer == "reward_model":
        if conversations:
            scorer = model.scorer(cfg.reward_model, cfg.max_length, cfg.batch_size)
            values, truncated = score_distributed(scorer, conversations)
        name = f"reward_model:{cfg.reward_model}"
    else:
        values = judge_scores(conversations, cfg, model, [batch["id"][o] for o in owners])
        truncated = [False] * len(conversations)
        name = f"judge:{model.name}"
    return {
        "candidate_scores": regroup(values, owners, rows),
        "reward_truncated": [sum(flags) for flags in regroup(truncated, owners, rows)],
        "scorer": [name] * rows,
    }

