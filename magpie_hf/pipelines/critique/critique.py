"""Critique rows: "is this student's solution right or wrong?", in verl's layout.

Up to `per_problem` solutions per problem, drawn with a per-problem seed so
reruns are stable, alternating right and wrong where both exist. Solutions
cut off by max_tokens never become rows: each leaves one dropped row counted
as `truncated_solution`.

Input columns: `id`, `index`, `domain`, `problem`, `answer`, the `source_column`
(a source with `keep: all`) unless null, and per graded column `<c>`: `<c>`
(solutions), `<c>_finish_reasons`, `<c>_correct`, `<c>_answers`.
Output columns (new rows): `id`, `problem_id`, `domain`, `data_source`,
`prompt` (chat list), `ability`, `reward_model` {style, ground_truth},
`extra_info` {index, split, original_index, solution_index, model_source,
solution, question_gt_answer, and `source_row`: every field of the source row
when `source_column` is set}, `question`, `answer` and `target` (`right` or
`wrong`, as the original writes them), `filter_reason`.
"""

from __future__ import annotations

import random
import zlib

from pydantic import Field

from magpie_hf.core.source import SOURCE_ROW
from magpie_hf.core.stage import Kind, StageConfig, stage
from magpie_hf.models.presets import Preset

CRITIQUE_PROMPT = (
    "You are a mathematics expert. A student is trying to solve a question. Please explain briefly whether his "
    "answer is correct or not. Finally, conclude your judgement with 'Conclusion: right/wrong [END]'"
)


class CritiqueConfig(StageConfig):
    """How many solutions per problem, the prompt, and verl's `data_source` / `ability`."""

    columns: list[str] = Field(min_length=1)
    per_problem: int = Field(default=4, ge=1)
    prompt: str = CRITIQUE_PROMPT
    data_source: str = "deepscaler_critique"
    ability: str = "critique"
    split: str = "train"  # extra_info.split; the export sets each row's real split
    source_column: str | None = None  # the source row's fields (`source_row` of a `keep: all` source) for extra_info
    seed: int = 0


def pick(right: list, wrong: list, count: int, rng: random.Random) -> list:
    """Up to `count` items, alternating right and wrong while both last."""
    rng.shuffle(right)
    rng.shuffle(wrong)
    chosen = []
    while len(chosen) < count and (right or wrong):
        for pool in (right, wrong) if len(chosen) % 2 == 0 else (wrong, right):
            if pool:
                chosen.append(pool.pop())
                break
    return chosen


OUTPUTS = (
    "id",
    "problem_id",
    "domain",
    "data_source",
    "prompt",
    "ability",
    "reward_model",
    "extra_info",
    "question",
    "answer",
    "target",
    "filter_reason",
)
SUFFIXES = ("", "_finish_reasons", "_correct", "_answers")


def inputs(cfg: CritiqueConfig) -> list[str]:
    source = [cfg.source_column] if cfg.source_column else []
    graded = [f"{x}{s}" for x in cfg.columns for s in SUFFIXES]
    return ["id", "index", "domain", "problem", "answer", *source, *graded]


@stage(
    "critique",
    config=CritiqueConfig,
    kind=Kind.EXPLODE,
    inputs=inputs,
    outputs=OUTPUTS,
    version="2",
    uses_model=False,
)
def build_critiques(batch: dict[str, list], cfg: CritiqueConfig, model: Preset) -> dict[str, list]:
    """One verl row per chosen (problem, solution); one dropped row per truncated solution."""
    out: dict[str, list] = {k: [] for k in OUTPUTS}
    for i, problem_id in enumerate(batch["id"]):
        candidates, truncated = [], []
        for label in cfg.columns:
            rows = zip(batch[label][i], batch[f"{label}_finish_reasons"][i], batch[f"{label}_correct"][i])
            for k, (solution, finish, correct) in enumerate(rows):
                (truncated if finish == "length" else candidates).append((label, k, solution, bool(correct)))
        rng = random.Random(cfg.seed + zlib.crc32(problem_id.encode()))
        chosen = pick([c for c in candidates if c[3]], [c for c in candidates if not c[3]], cfg.per_problem, rng)
        question, reference = batch["problem"][i], batch["answer"][i]
        for j, (label, k, solution, correct) in enumerate(chosen):
            verdict = "right" if correct else "wrong"
            content = f"{cfg.prompt}\n\nQuestion: {question}\n\nStudent's solution: {solution}"
            extra = {
                "index": batch["index"][i] * cfg.per_problem + j,
                "split": cfg.split,
                "original_index": batch["index"][i],
                "solution_index": k,
                "model_source": label,
                "solution": solution,
                "question_gt_answer": reference,
            }
            if cfg.source_column:
                extra[SOURCE_ROW] = batch[cfg.source_column][i]
            row = {
                "id": f"{problem_id}-{label}-{k}",
                "prompt": [{"role": "user", "content": content}],
                "reward_model": {"style": "rule", "ground_truth": verdict},
                "extra_info": extra,
                "answer": verdict,
                "target": verdict,
                "filter_reason": None,
            }
            append(out, batch, i, cfg, row)
        for label, k, solution, _ in truncated:
            empty = {"id": f"{problem_id}-{label}-{k}", "prompt": [], "reward_model": None, "extra_info": None}
            append(out, batch, i, cfg, {**empty, "answer": None, "target": None, "filter_reason": "truncated_solution"})
    return out


def append(out: dict[str, list], batch: dict[str, list], i: int, cfg: CritiqueConfig, row: dict) -> None:
    """Add one output row: the problem's own fields, the config's labels, then `row`."""
    shared = {
        "problem_id": batch["id"][i],
        "domain": batch["domain"][i],
        "data_source": cfg.data_source,
        "ability": cfg.ability,
        "question": batch["problem"][i],
    }
    for key, value in {**shared, **row}.items():
        out[key].append(value)
