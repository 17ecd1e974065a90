"""The grade stage: reference, majority or both; math-verify first, the LLM judge only where it cannot decide."""

from __future__ import annotations

import pytest

from magpie_hf.stages.grade import GradeConfig, grade


def test_judge_uses_math_verify_first_and_the_llm_only_when_undecided(scripted):
    model, engine = scripted
    engine.rules["twenty-four"] = "Yes"
    engine.default = "No"
    batch = {
        "id": ["q1", "q2"],
        "problem": ["What is 4! ?", "What is 2 + 3?"],
        "answer": ["24", None],
        "solver": [
            ["so \\boxed{24}", "\\boxed{25}", "I think it is twenty-four."],
            ["\\boxed{5}", "\\boxed{5.0}", "\\boxed{6}"],
        ],
    }
    out = grade(batch, GradeConfig(columns=["solver"], llm_judge=True, max_tokens=4), model)
    assert out["reference_answer"] == ["24", "5"] and out["reference_source"] == ["reference", "majority"]
    assert out["solver_correct"][0] == [True, False, True]
    assert out["solver_judged_by"][0] == ["math_verify", "math_verify", "llm"]
    assert out["solver_correct"][1] == [True, True, False] and out["majority_votes"][1] == 2
    assert len(engine.prompts) == 1 and "Expected answer: 24" in engine.prompts[0]


def test_several_columns_share_one_reference_and_count_timeouts(embedded):
    batch = {
        "id": ["p"],
        "problem": ["What is 3 divided by 4?"],
        "answer": ["3/4"],
        "a": [["\\boxed{0.75}", "x"]],
        "b": [["\\boxed{3/4}", "\\boxed{1}"]],
    }
    out = grade(batch, GradeConfig(columns=["a", "b"], reference="answer"), embedded)
    assert out["a_correct"] == [[True, None]] and out["b_correct"] == [[True, False]]
    assert out["a_verdicts"] == [["correct", "unparseable"]] and out["grading_timeouts"] == [0]


@pytest.mark.parametrize(
    "reference, inputs",
    [
        ("answer", ("id", "a", "problem", "answer")),
        ("majority", ("id", "a", "problem")),
        ("answer_or_majority", ("id", "a", "problem", "answer")),
    ],
)
def test_declared_columns(reference, inputs):
    cfg = GradeConfig(columns=["a"], reference=reference)
    assert grade.stage.input_columns(cfg) == inputs
    assert "a_correct" in grade.stage.output_columns(cfg) and not grade.stage.needs_model(cfg)
    assert grade.stage.needs_model(cfg.model_copy(update={"llm_judge": True}))


def test_an_answer_restating_the_question_is_graded_wrong(embedded):
    batch = {
        "id": ["p"],
        "problem": ["Compute $\\sqrt[4]{12960000}$."],
        "answer": ["60"],
        "a": [["So it is \\boxed{\\sqrt[4]{12960000}}", "\\boxed{60}"]],
    }
    out = grade(batch, GradeConfig(columns=["a"], reference="answer"), embedded)
    assert out["a_verdicts"] == [["restated_question", "correct"]] and out["a_correct"] == [[False, True]]
    unchecked = grade(batch, GradeConfig(columns=["a"], reference="answer", question_column=None), embedded)
    assert unchecked["a_correct"] == [[True, True]]
