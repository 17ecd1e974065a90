"""Summaries of long GenSelect candidates, with NeMo-Skills' `summarize-solution.yaml` prompt.

A candidate longer than `min_chars` goes to the model (the prompt's `{generation}`),
once per distinct prompt of the batch, all in one engine call. The reply (its part
after `</think>`) takes the candidate's place when it boxes the candidate's answer,
as NeMo-Skills' `merge_new_summaries` keeps only summaries with the solution's
answer; otherwise the candidate stays as it was. The summaries are counted in the
run report: `summaries_used`, and `summaries_rejected` (another answer, or no reply).
Candidates still longer than `max_chars` then keep their last `max_chars`
characters, from a paragraph start where there is one, as NeMo-Skills' `extract_summary`
keeps a summary's last 3,000 (the answer comes last). `min_chars: 0` asks nothing.

Input columns: `id`, `candidates`, `candidate_answers`, and the other `{column}` placeholders of `prompt`.
Output columns: `candidates` (summaries in place of long ones), `candidate_summarized` (list[bool]).

Example:
    - name: generate_new_summaries
      stage: summarize_candidates
      min_chars: 4000
      prompt: "Problem:\\n{problem}\\n\\nSolution:\\n{generation}\\n\\nWrite a clean version of the final solution."
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from magpie_hf.core.stage import batch_rows, fill, placeholders, stage
from magpie_hf.math.grading import extract_answer
from magpie_hf.stages.prompting import AskSampling, ask, split_thinking

if TYPE_CHECKING:
    from magpie_hf.run.context import BoundModel

CANDIDATE = "generation"  # the prompt's placeholder for the candidate's text


class SummarizeCandidatesConfig(AskSampling):
    """Which candidates are summarized (over `min_chars`; 0: none) or cut (`max_chars`), the prompt, the sampling."""

    prompt: str
    min_chars: int = Field(default=4000, ge=0)
    max_chars: int | None = Field(default=None, gt=0)
    temperature: float = Field(default=0.7, ge=0)
    max_tokens: int = Field(default=2048, gt=0)


def inputs(cfg: SummarizeCandidatesConfig) -> list[str]:
    return ["id", "candidates", "candidate_answers", *(p for p in placeholders(cfg.prompt) if p != CANDIDATE)]


def tail(text: str, max_chars: int | None) -> str:
    """The last `max_chars` characters, from the first paragraph start among them when there is one."""
    if max_chars is None or len(text) <= max_chars:
        return text
    cut = text[-max_chars:]
    return cut.split("\n\n", 1)[1] if cut.count("\n\n") > 1 else cut


def wanted(row: dict, cfg: SummarizeCandidatesConfig) -> list[str | None]:
    """The summary prompt of each of the row's candidates, None for those short enough."""
    return [
        fill(cfg.prompt, {**row, CANDIDATE: text}) if 0 < cfg.min_chars < len(text) else None
        for text in row["candidates"]
    ]


def kept_summary(reply: str, answer: str | None) -> str | None:
    """The reply's part after `</think>` when it boxes the candidate's answer, else None."""
    summary = split_thinking(reply)
    return summary if answer is not None and summary and extract_answer(summary) == answer else None


@stage(
    "summarize_candidates",
    config=SummarizeCandidatesConfig,
    inputs=inputs,
    outputs=("candidates", "candidate_summarized"),
    uses_model=lambda c: c.min_chars > 0,
)
def summarize_candidates(batch: dict[str, list], cfg: SummarizeCandidatesConfig, model: BoundModel) -> dict[str, list]:
    """Long candidates replaced by the model's summaries that keep their answer, then cut to `max_chars`."""
    rows = batch_rows(batch)
    prompts = [wanted(row, cfg) for row in rows]
    asked: dict[str, tuple[str, str | None]] = {}  # prompt -> (its first candidate's id, the answer to keep)
    for row, row_prompts in zip(rows, prompts):
        for k, (prompt, answer) in enumerate(zip(row_prompts, row["candidate_answers"])):
            if prompt is not None:
                asked.setdefault(prompt, (f"{row['id']}:c{k}", answer))
    replies = ask(model, list(asked), [i for i, _ in asked.values()], cfg, "summary")
    summaries = {p: kept_summary(r, answer) for (p, (_, answer)), r in zip(asked.items(), replies)}
    used = sum(s is not None for s in summaries.values())
    model.usage.counters.update({"summaries_used": used, "summaries_rejected": len(summaries) - used})
    candidates, summarized = [], []
    for row, row_prompts in zip(rows, prompts):
        found = [summaries.get(p) for p in row_prompts]
        candidates.append([tail(s or text, cfg.max_chars) for s, text in zip(found, row["candidates"])])
        summarized.append([s is not None for s in found])
    return {"candidates": candidates, "candidate_summarized": summarized}
