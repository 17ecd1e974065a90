"""Preference pairs, correctness-aware when answers could be checked.

When a candidate's correctness is known (a reference or majority answer, see
the grade stage) and the row has both correct and incorrect candidates:
chosen = the correct candidate with the highest reward; rejected = an incorrect
one, the highest-reward (hard negative) or the lowest, as the recipe says.
Otherwise chosen = highest reward, rejected = lowest. Ties and identical texts
make no pair and are counted by reason; each row records the rule that picked it.

Input columns: `problem`, `candidates`, `candidate_scores`, and the correctness
column (`correct_column`, e.g. `candidates_correct` from the grade stage) when set.
Output columns: `prompt`, `chosen`, `rejected` (chat lists, as TRL's DPO
trainer reads them), `score_chosen`, `score_rejected`, `pair_rule`, `filter_reason`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from magpie_hf.core.stage import StageConfig, stage
from magpie_hf.models.presets import Preset


class PreferenceConfig(StageConfig):
    """`min_margin`: smallest score gap for a reward-only pair; `rejected`: which incorrect candidate."""

    min_margin: float = Field(default=0.0, ge=0)
    rejected: Literal["hard_negative", "lowest"] = "hard_negative"
    correct_column: str | None = None


def pick_pair(
    candidates: list[str], scores: list[float], correct: list[bool | None] | None, cfg: PreferenceConfig
) -> tuple[int, int, str, str | None]:
    """(chosen index, rejected index, rule, why there is no pair or None)."""
    if len(candidates) < 2:
        return -1, -1, "none", "too_few_candidates"
    by_score = scores.__getitem__
    right = [i for i, c in enumerate(correct or []) if c is True]
    wrong = [i for i, c in enumerate(correct or []) if c is False]
    if right and wrong:
        best = max(right, key=by_score)
        worst = max(wrong, key=by_score) if cfg.rejected == "hard_negative" else min(wrong, key=by_score)
        rule = f"correct_vs_{cfg.rejected}"
    else:
        order = sorted(range(len(scores)), key=by_score)
        worst, best, rule = order[0], order[-1], "reward_max_min"
        if scores[best] - scores[worst] <= cfg.min_margin:
            return best, worst, rule, "tied_scores"
    if candidates[best].strip() == candidates[worst].strip():
        return best, worst, rule, "identical_candidates"
    return best, worst, rule, None


OUTPUTS = ("prompt", "chosen", "rejected", "score_chosen", "score_rejected", "pair_rule", "filter_reason")


@stage(
    "preference",
    config=PreferenceConfig,
    inputs=lambda c: ["problem", "candidates", "candidate_scores", *([c.correct_column] if c.correct_column else [])],
    outputs=OUTPUTS,
    version="3",
    uses_model=False,
)
def build_preference(batch: dict[str, list], cfg: PreferenceConfig, model: Preset) -> dict[str, list]:
    """Conversational `prompt` / `chosen` / `rejected` columns, as TRL's DPO trainer reads them."""
    out: dict[str, list] = {k: [] for k in OUTPUTS}
    correctness = batch[cfg.correct_column] if cfg.correct_column else [None] * len(batch["candidates"])
    for problem, candidates, scores, correct in zip(
        batch["problem"], batch["candidates"], batch["candidate_scores"], correctness
    ):
        best, worst, rule, reason = pick_pair(candidates, scores, correct, cfg)
        out["prompt"].append([{"role": "user", "content": problem}])
        out["chosen"].append([{"role": "assistant", "content": candidates[best] if best >= 0 else ""}])
        out["rejected"].append([{"role": "assistant", "content": candidates[worst] if worst >= 0 else ""}])
        out["score_chosen"].append(scores[best] if best >= 0 else float("nan"))
        out["score_rejected"].append(scores[worst] if worst >= 0 else float("nan"))
        out["pair_rule"].append(rule)
        out["filter_reason"].append(reason)
    return out

