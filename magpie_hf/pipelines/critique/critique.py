"""Critique rows: "is this student's solution right or wrong?", in verl's layout.

Up to `per_problem` solutions per problem, drawn with a per-problem seed so
reruns are stable, alternating right and wrong where both exist.

Input columns: `id`, `index`, `domain`, `problem`, `answer`, and per graded
column `<c>`: `<c>` (solutions), `<c>_correct`, `<c>_answers`.
Output columns (new rows): `id`, `problem_id`, `domain`, `data_source`,
`prompt`, `ability`, `reward_model`, `extra_info`.
"""

from __future__ import annotations

import random
import zlib

from pydantic import Field

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
    data_source: str = "magpie_hf/critique"
    ability: str = "math"
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


OUTPUTS = ("id", "problem_id", "domain", "data_source", "prompt", "ability", "reward_model", "extra_info")


@stage(
    "critique",
    config=CritiqueConfig,
    kind=Kind.EXPLODE,
    inputs=lambda c: [
        "id", "index", "domain", "problem", "answer", *(f"{x}{s}" for x in c.columns for s in ("", "_correct", "_answers"))
    ],
    outputs=OUTPUTS,
    uses_model=False,
)
def build_critiques(batch: dict[str, list], cfg: CritiqueConfig, model: Preset) -> dict[str, list]:
    """One verl row per chosen (problem, solution): `prompt` chat, `reward_model`, `ability`, `extra_info`."""
    out: dict[str, list] = {k: [] for k in OUTPUTS}
    for i, problem_id in enumerate(batch["id"]):
        candidates = [
            (label, k, solution, correct)
            for label in cfg.columns
            for k, (solution, correct) in enumerate(zip(batch[label][i], batch[f"{label}_correct"][i]))
        ]
        rng = random.Random(cfg.seed + zlib.crc32(problem_id.encode()))
        chosen = pick([c for c in candidates if c[3]], [c for c in candidates if not c[3]], cfg.per_problem, rng)
        for label, k, solution, correct in chosen:
            question = batch["problem"][i]
            out["id"].append(f"{problem_id}-{label}-{k}")
            out["problem_id"].append(problem_id)
            out["domain"].append(batch["domain"][i])
            out["data_source"].append(cfg.data_source)
            out["prompt"].append(
                [{"role": "user", "content": f"{cfg.prompt}\n\nQuestion: {question}\n\nStudent's solution: {solution}"}]
            )
            out["ability"].append(cfg.ability)
            out["reward_model"].append({"style": "rule", "ground_truth": "right" if correct else "wrong"})
            out["extra_info"].append(
                {
                    "index": batch["index"][i],
                    "problem_id": problem_id,
                    "model": label,
                    "sample": k,
                    "question": question,
                    "reference_answer": batch["answer"][i],
                    "student_answer": batch[f"{label}_answers"][i][k] or "",
                }
            )
    return out

