"""Grade: extract each completion's final answer and check it against a reference or the majority.

`reference: answer` compares with the row's reference answer (`answer_column`);
`majority` with the most common answer among the row's completions (all
graded columns together), when it has at least `min_majority_votes` votes and
`min_majority_share` of the answered ones; `answer_or_majority` takes the
reference where the row has one, else the majority. math-verify decides; with
`llm_judge: true` the model is asked where math-verify cannot (no parseable
answer, or a timeout); its Yes/No comes from the first token's logprobs when the
server gives them, else from the text, counted by source in the run report
(`verdicts_logprobs`, `verdicts_text`, `verdicts_undecided`). Each verdict
records who decided. An answer that math-verify finds equal only because it
repeats the question's own expression (`\\sqrt[4]{12960000}` for a question
asking for it) is `restated_question`, not correct.

Input columns: `id`, each of `columns` (lists of completions), `question_column`
unless null, and `answer_column` unless `reference: majority`.
Output columns, per graded column `<c>`:
    <c>_answers: list[str | None], the extracted final answers.
    <c>_verdicts: list[str], correct / incorrect / restated_question / unparseable / timeout.
    <c>_correct: list[bool | None], None where nothing could decide.
    <c>_judged_by: list[str], math_verify / llm / none.
and `reference_answer`, `reference_source` (reference / majority / None),
`majority_votes`, `grading_timeouts` (summed in the run report).

Example:
    - stage: grade
      columns: [model_a, model_b]
      reference: answer
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from magpie_hf.core.stage import StageConfig, fill, stage
from magpie_hf.math.grading import Verdict, extract_answer, grade_rows, majority_answer
from magpie_hf.stages.prompting import AskSampling, ask_yes_no

if TYPE_CHECKING:
    from magpie_hf.run.context import BoundModel

SAME_ANSWER = (
    "Expected answer: {expected}\n\nA student's solution ends with:\n{predicted}\n\n"
    "Is the student's final answer mathematically equivalent to the expected answer? Answer Yes or No."
)


class MajorityRule(StageConfig):
    """When the most common answer counts: enough votes, and enough of the answered ones; the math-verify limits."""

    min_majority_votes: int = Field(default=2, ge=1)
    min_majority_share: float = Field(default=0.5, gt=0, le=1)
    timeout: float = Field(default=5.0, gt=0)
    workers: int | None = Field(default=None, ge=1)  # grading processes; None: every core


class GradeConfig(AskSampling, MajorityRule):
    """What is graded, against what, the majority rule, the timeout and the optional LLM judge."""

    columns: list[str] = Field(min_length=1)
    reference: Literal["answer", "majority", "answer_or_majority"] = "answer_or_majority"
    answer_column: str = "answer"
    question_column: str | None = "problem"  # answers that restate it are not correct; null: no such check
    llm_judge: bool = False
    judge_prompt: str = SAME_ANSWER
    max_tokens: int = Field(default=8, gt=0)


def inputs(cfg: GradeConfig) -> list[str]:
    question = [cfg.question_column] if cfg.question_column else []
    return ["id", *cfg.columns, *question, *([cfg.answer_column] if cfg.reference != "majority" else [])]


def outputs(cfg: GradeConfig) -> list[str]:
    per_column = [f"{c}_{suffix}" for c in cfg.columns for suffix in ("answers", "verdicts", "correct", "judged_by")]
    return [*per_column, "reference_answer", "reference_source", "majority_votes", "grading_timeouts"]


def reference_for(answers: list[str | None], given: str | None, cfg: GradeConfig) -> tuple[str | None, str | None, int]:
    """(reference answer, where it came from, majority votes)."""
    if given and cfg.reference != "majority":
        return given, "reference", 0
    if cfg.reference == "answer":
        return None, None, 0
    answer, votes = majority_reference(answers, cfg)
    return answer, None if answer is None else "majority", votes


def majority_reference(answers: list[str | None], rule: MajorityRule) -> tuple[str | None, int]:
    """The most common answer where it passes the rule (else None), and its votes."""
    answer, votes = majority_answer(answers, rule.timeout, workers=rule.workers)
    answered = sum(1 for a in answers if a)
    passes = answer is not None and votes >= rule.min_majority_votes and votes >= rule.min_majority_share * answered
    return answer if passes else None, votes


@stage(
    "grade",
    config=GradeConfig,
    inputs=inputs,
    outputs=outputs,
    uses_model=lambda c: c.llm_judge,
    counters=("grading_timeouts",),
)
def grade(batch: dict[str, list], cfg: GradeConfig, model: BoundModel) -> dict[str, list]:
    """Answers, verdicts and correctness per completion; all comparisons of the batch in one pool call per column."""
    rows = len(batch["id"])
    answers = {c: [[extract_answer(s) for s in row] for row in batch[c]] for c in cfg.columns}
    given = batch[cfg.answer_column] if cfg.reference != "majority" else [None] * rows
    pooled = [[a for c in cfg.columns for a in answers[c][r]] for r in range(rows)]
    references = [reference_for(a, g, cfg) for a, g in zip(pooled, given)]
    out: dict[str, list] = {
        "reference_answer": [r[0] for r in references],
        "reference_source": [r[1] for r in references],
        "majority_votes": [r[2] for r in references],
        "grading_timeouts": [0] * rows,
    }
    for c in cfg.columns:
        questions = batch[cfg.question_column] if cfg.question_column else None
        verdicts = grade_rows([r[0] for r in references], answers[c], cfg.timeout, cfg.workers, questions)
        correct = [[v.correct if ref[0] else None for v in row] for row, ref in zip(verdicts, references)]
        judged = [["math_verify" if ok is not None else "none" for ok in row] for row in correct]
        if cfg.llm_judge:
            judge_undecided(batch, c, answers[c], references, correct, judged, cfg, model)
        out[f"{c}_answers"] = answers[c]
        out[f"{c}_verdicts"] = [[v.value for v in row] for row in verdicts]
        out[f"{c}_correct"] = correct
        out[f"{c}_judged_by"] = judged
        out["grading_timeouts"] = [
            n + sum(v is Verdict.TIMEOUT for v in row) for n, row in zip(out["grading_timeouts"], verdicts)
        ]
    return out


def judge_undecided(batch, column, answers, references, correct, judged, cfg: GradeConfig, model: BoundModel) -> None:
    """Ask the model about every completion math-verify could not decide (in place)."""
    undecided = [(r, k) for r, row in enumerate(correct) for k, ok in enumerate(row) if ok is None and references[r][0]]
    prompts = [
        fill(cfg.judge_prompt, {"expected": references[r][0], "predicted": answers[r][k] or batch[column][r][k][-400:]})
        for r, k in undecided
    ]
    verdicts = ask_yes_no(model, prompts, [f"{batch['id'][r]}:{column}:{k}" for r, k in undecided], cfg, "judge")
    for (r, k), (_, yes) in zip(undecided, verdicts):
        correct[r][k] = yes
        judged[r][k] = "llm"
