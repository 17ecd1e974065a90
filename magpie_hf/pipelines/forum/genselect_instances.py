"""GenSelect instances (NeMo-Skills' `prepare_labeling_data`): shuffled subsets of a problem's judged solutions.

A problem takes part when it is clean and has a correct solution and a wrong one
that has an answer (solutions nothing judged, and wrong ones without an answer,
are left out), and at least `min_solutions` of those in all. Each instance holds
2 to `max_solutions` of them, at least one correct and one wrong, shuffled. As in
NeMo-Skills, the correct ones are first cut to as many as the wrong ones, so an
instance holds as many wrong candidates as correct ones or more on average, and
its size is drawn from a normal around the middle of the range. Up to
`max_instances_per_problem` distinct instances per problem come from twice as
many draws, seeded per problem (the recipe seed and the row id). A candidate's
text is what follows the solution's `</think>` (its own summary), else the whole
solution. A problem that does not take part leaves one dropped row saying why
(`contaminated`, `not_mixed`, `too_few_solutions`).

Input columns: `id`, `domain`, `problem`, `expected_answer`, `contaminated`, and for the
graded column `<c>`: `<c>`, `<c>_answers`, `<c>_correct`.
Output columns (new rows, `<problem id>-g<k>`): `id`, `problem_id`, `domain`, `problem`,
`expected_answer`, `candidates` (texts), `candidate_indices` (positions in `<c>`),
`candidate_answers`, `candidate_correct`, `num_candidates`, `filter_reason`.

Example:
    - name: prepare_labeling_data
      stage: genselect_instances
      column: solver
      max_solutions: 16
      max_instances_per_problem: 8
"""

from __future__ import annotations

import random

from pydantic import Field

from magpie_hf.core.seeds import row_seed
from magpie_hf.core.stage import Kind, StageConfig, stage
from magpie_hf.models.presets import Preset
from magpie_hf.stages.prompting import split_thinking

OUTPUTS = (
    "id",
    "problem_id",
    "domain",
    "problem",
    "expected_answer",
    "candidates",
    "candidate_indices",
    "candidate_answers",
    "candidate_correct",
    "num_candidates",
    "filter_reason",
)


class GenSelectInstancesConfig(StageConfig):
    """The graded column, the solutions a problem needs, the size of an instance, instances per problem."""

    column: str = "solver"
    min_solutions: int = Field(default=4, ge=2)
    max_solutions: int = Field(default=16, ge=2)
    max_instances_per_problem: int = Field(default=8, ge=1)
    seed: int = 0


def candidate_text(solution: str) -> str:
    """A candidate's text: the solution's part after `</think>`, else all of it (a dangling `<think>` removed)."""
    return split_thinking(solution).replace("<think>", "").strip()


def usable(answers: list[str | None], correct: list[bool | None]) -> tuple[list[int], list[int]]:
    """Positions of the correct solutions, and of the wrong ones that have an answer."""
    right = [k for k, ok in enumerate(correct) if ok]
    wrong = [k for k, ok in enumerate(correct) if ok is False and answers[k] is not None]
    return right, wrong


def why_not(contaminated: bool, right: list[int], wrong: list[int], cfg: GenSelectInstancesConfig) -> str | None:
    """Why a problem gives no instance (None when it does)."""
    if contaminated:
        return "contaminated"
    if not right or not wrong:
        return "not_mixed"
    return "too_few_solutions" if len(right) + len(wrong) < cfg.min_solutions else None


def subset_size(rng: random.Random, most: int) -> int:
    """2 to `most`, from a normal around the middle (sd a sixth of the range) cut to the range, as NeMo-Skills."""
    if most <= 2:
        return 2
    mean, sd = (most + 2) // 2, (most - 2) / 6
    while True:
        size = rng.gauss(mean, sd)
        if 2 <= size <= most:
            return int(size)


def draw(rng: random.Random, right: list[int], wrong: list[int], max_solutions: int) -> list[int]:
    """One instance: solution positions, a correct one and a wrong one first chosen, then shuffled together."""
    right = rng.sample(right, min(len(right), len(wrong)))
    wrong = rng.sample(wrong, len(wrong))
    size = subset_size(rng, min(len(right) + len(wrong), max_solutions))
    rest = right[1:] + wrong[1:]
    rng.shuffle(rest)
    chosen = [right[0], wrong[0], *rest[: size - 2]]
    rng.shuffle(chosen)
    return chosen


def instances(
    rng: random.Random, right: list[int], wrong: list[int], texts: list[str], cfg: GenSelectInstancesConfig
) -> list[list[int]]:
    """Up to `max_instances_per_problem` instances whose candidate texts differ, from twice as many draws."""
    seen: set[tuple[str, ...]] = set()
    found: list[list[int]] = []
    for _ in range(2 * cfg.max_instances_per_problem):
        chosen = draw(rng, right, wrong, cfg.max_solutions)
        key = tuple(texts[k] for k in chosen)
        if key not in seen:
            seen.add(key)
            found.append(chosen)
        if len(found) == cfg.max_instances_per_problem:
            break
    return found


@stage(
    "genselect_instances",
    config=GenSelectInstancesConfig,
    kind=Kind.EXPLODE,
    inputs=lambda c: [
        "id",
        "domain",
        "problem",
        "expected_answer",
        "contaminated",
        c.column,
        f"{c.column}_answers",
        f"{c.column}_correct",
    ],
    outputs=OUTPUTS,
    uses_model=False,
)
def genselect_instances(batch: dict[str, list], cfg: GenSelectInstancesConfig, model: Preset) -> dict[str, list]:
    """The GenSelect instances of each problem; a problem with none leaves one dropped row saying why."""
    out: dict[str, list] = {k: [] for k in OUTPUTS}
    for i, problem_id in enumerate(batch["id"]):
        answers, correct = batch[f"{cfg.column}_answers"][i], batch[f"{cfg.column}_correct"][i]
        right, wrong = usable(answers, correct)
        reason = why_not(bool(batch["contaminated"][i]), right, wrong, cfg)
        texts = [candidate_text(s) for s in batch[cfg.column][i]]
        rng = random.Random(row_seed(cfg.seed, problem_id))
        chosen = [[]] if reason else instances(rng, right, wrong, texts, cfg)
        for k, picked in enumerate(chosen):
            out["id"].append(f"{problem_id}-g{k}")
            out["problem_id"].append(problem_id)
            out["domain"].append(batch["domain"][i])
            out["problem"].append(batch["problem"][i])
            out["expected_answer"].append(batch["expected_answer"][i])
            out["candidates"].append([texts[j] for j in picked])
            out["candidate_indices"].append(picked)
            out["candidate_answers"].append([answers[j] for j in picked])
            out["candidate_correct"].append([bool(correct[j]) for j in picked])
            out["num_candidates"].append(len(picked))
            out["filter_reason"].append(reason)
    return out
