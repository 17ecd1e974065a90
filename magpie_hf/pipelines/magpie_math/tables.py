"""The Magpie math exports: every problem, SFT rows, preference pairs; and the card's plots."""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING

from magpie_hf.stages.prompting import split_thinking

if TYPE_CHECKING:
    from datasets import Dataset

SFT_KEEP = ("id", "domain", "gen_input_configs")
PREFERENCE_KEEP = (
    "id",
    "domain",
    "prompt",
    "chosen",
    "rejected",
    "score_chosen",
    "score_rejected",
    "pair_rule",
    "candidates",
    "candidate_scores",
    "reference_answer",
    "reference_source",
    "scorer",
    "gen_input_configs",
)
# grade-stage names -> the exported names
PREFERENCE_RENAMES = MappingProxyType({
    "candidates_answers": "candidate_answers",
    "candidates_correct": "candidate_correct",
    "candidates_config": "gen_candidate_configs",
})


def instructions_rows(rows: Dataset) -> Dataset:
    """Every generated problem, kept or not (`filter_reason` says why not), with provenance (no vectors)."""
    return rows.remove_columns([c for c in ("embedding",) if c in rows.column_names])


def sft_rows(rows: Dataset) -> Dataset:
    """`messages` (user problem, assistant solution) + domain + provenance; truncated solutions are left out."""
    complete = rows.filter(lambda reasons: reasons[0] != "length", input_columns="response_finish_reasons")
    responses = [r[0] for r in complete["response"]]
    messages = [
        [{"role": "user", "content": q}, {"role": "assistant", "content": r}]
        for q, r in zip(complete["problem"], responses)
    ]
    kept = complete.select_columns([c for c in SFT_KEEP if c in complete.column_names])
    return (
        kept.add_column("messages", messages)
        .add_column("solution", [split_thinking(r) for r in responses])
        .add_column("response_tokens", [t[0] for t in complete["response_tokens"]])
        .add_column("gen_response_configs", complete["response_config"])
    )


def preference_rows(rows: Dataset) -> Dataset:
    """`prompt` / `chosen` / `rejected` chat lists, their scores, and all candidates with scores and answers."""
    renamed = rows.rename_columns({k: v for k, v in PREFERENCE_RENAMES.items() if k in rows.column_names})
    keep = [*PREFERENCE_KEEP, *PREFERENCE_RENAMES.values()]
    return renamed.select_columns([c for c in keep if c in renamed.column_names])


CANDIDATES_KEEP = (
    "id",
    "domain",
    "problem",
    "candidates",
    "candidate_scores",
    "candidate_answers",
    "candidate_correct",
    "reference_answer",
    "reference_source",
    "scorer",
    "pair_rule",
    "no_pair_reason",
)


def candidates_rows(rows: Dataset) -> Dataset:
    """Every kept problem with all its candidates, scores, answers and correctness, whether it made a pair or not.

    `pair_rule` says how its pair was picked; `no_pair_reason` why it has none (None when it has one).
    """
    renamed = rows.rename_columns(
        {k: v for k, v in {**PREFERENCE_RENAMES, "filter_reason": "no_pair_reason"}.items() if k in rows.column_names}
    )
    return renamed.select_columns([c for c in CANDIDATES_KEEP if c in renamed.column_names])


def plots(tables: dict[str, Dataset]) -> dict[str, tuple[str, list[float] | dict[str, int]]]:
    """Problems kept per domain, SFT response lengths, candidate rewards, chosen-rejected margins."""
    problems, sft, pref = tables.get("instructions"), tables.get("sft"), tables.get("preference")
    kept: dict[str, int] = {}
    if problems is not None:
        reasons = problems["filter_reason"] if "filter_reason" in problems.column_names else [None] * len(problems)
        for domain, reason in zip(problems["domain"], reasons):
            if reason is None:
                kept[domain] = kept.get(domain, 0) + 1
    return {
        "problems_per_domain": ("problems kept per domain", dict(sorted(kept.items()))),
        "response_length": ("SFT response length (tokens)", sft["response_tokens"] if sft is not None else []),
        "reward_distribution": (
            "candidate reward scores",
            [s for row in pref["candidate_scores"] for s in row] if pref is not None else [],
        ),
        "preference_margin": (
            "score_chosen - score_rejected",
            [c - r for c, r in zip(pref["score_chosen"], pref["score_rejected"])] if pref is not None else [],
        ),
    }
