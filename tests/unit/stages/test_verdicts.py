"""Yes/no verdicts: from the first token's logprobs when the server gives them, else the text; counted by source."""

from __future__ import annotations

import json
import math

import pytest

from magpie_hf.cli.summary import format_summary
from magpie_hf.core.recipe import Recipe
from magpie_hf.engines import Completion
from magpie_hf.stages.ask import AskConfig, ask_rows
from magpie_hf.stages.classify import ClassifyConfig, ClassStep, classify
from magpie_hf.stages.grade import GradeConfig, grade
from magpie_hf.stages.prompting import yes_no_verdict

YES = {"Yes": math.log(0.7), " No": math.log(0.2)}
NO_BY_SPELLINGS = {"Yes": math.log(0.4), "No": math.log(0.35), " no": math.log(0.25)}


@pytest.mark.parametrize(
    "text, logprobs, expected",
    [
        ("Yes", YES, (True, "logprobs")),
        ("Yes.", NO_BY_SPELLINGS, (False, "logprobs")),  # the spellings of No outweigh the one Yes
        ("No", {}, (False, "text")),  # the server gave no logprobs
        ("Yes", {"Sure": -0.1}, (True, "text")),  # none of them is a yes or a no
        ("Yes", {"Yes": -0.7, "No": -0.7}, (True, "text")),  # a tie
        ("The answer is no.", YES, (False, "text")),  # the first token is no verdict: its logprobs say nothing
        ("I cannot tell.", YES, (None, "undecided")),
        ("", {}, (None, "undecided")),
    ],
)
def test_a_verdict_and_its_source(text, logprobs, expected):
    assert yes_no_verdict(Completion(text, 1, "stop", first_token_logprobs=logprobs)) == expected


def counts(model) -> dict[str, int]:
    return dict(model.usage.counters)


def test_classify_counts_each_answer_by_the_source_of_its_verdict(scripted):
    model, engine = scripted
    engine.rules["PROOF? Prove"] = "Yes"
    engine.rules["PROOF? Pick"] = "Maybe."
    engine.logprobs["PROOF? Prove"] = YES  # only this prompt's reply comes with logprobs
    engine.default = "No"
    steps = [ClassStep(name="proof", prompt="PROOF? {problem}"), ClassStep(name="choice", prompt="CHOICE? {problem}")]
    out = classify(
        {"id": ["a", "b", "c"], "problem": ["Prove P.", "Pick (A).", "Find x."]}, ClassifyConfig(steps=steps), model
    )
    assert out["problem_type"] == ["proof", "regular", "regular"]
    # proof: a from logprobs, b undecided, c from text; choice (b and c): from text
    assert counts(model) == {"verdicts_logprobs": 1, "verdicts_text": 3, "verdicts_undecided": 1}


def test_a_logprob_verdict_outweighs_the_sampled_word(scripted):
    model, engine = scripted
    engine.default = "Yes"
    engine.logprobs["Is it?"] = NO_BY_SPELLINGS
    out = classify(
        {"id": ["a"], "problem": ["x"]}, ClassifyConfig(steps=[ClassStep(name="k", prompt="Is it? {problem}")]), model
    )
    assert out["problem_type"] == ["regular"] and out["problem_type_reply"] == ["Yes"]
    assert counts(model) == {"verdicts_logprobs": 1, "verdicts_text": 0, "verdicts_undecided": 0}


def test_ask_counts_yes_no_verdicts_and_nothing_for_other_parsers(scripted):
    model, engine = scripted
    engine.rules["Q1"] = "No, it is not."
    engine.rules["Q2"] = "Hard to say."
    rows = {"id": ["a", "b"], "question": ["Q1", "Q2"]}
    out = ask_rows(rows, AskConfig(column="ok", prompt="{question}", parse="yes_no"), model)
    assert out == {"ok": [False, None], "ok_raw": ["No, it is not.", "Hard to say."]}
    assert counts(model) == {"verdicts_logprobs": 0, "verdicts_text": 1, "verdicts_undecided": 1}
    ask_rows(rows, AskConfig(column="said", prompt="{question}"), model)
    assert counts(model) == {"verdicts_logprobs": 0, "verdicts_text": 1, "verdicts_undecided": 1}


def test_the_judge_counts_its_verdicts(scripted):
    model, engine = scripted
    engine.rules["it is four"] = "Yes"
    engine.logprobs["it is four"] = YES
    engine.default = "No"
    solutions = ["I think it is four.", "It is five, I guess.", "\\boxed{4}"]
    batch = {"id": ["r"], "solver": [solutions], "answer": ["4"], "problem": ["What is 2+2?"]}
    out = grade(batch, GradeConfig(columns=["solver"], llm_judge=True), model)
    assert out["solver_correct"] == [[True, False, True]]
    assert out["solver_judged_by"] == [["llm", "llm", "math_verify"]]
    assert counts(model) == {"verdicts_logprobs": 1, "verdicts_text": 1, "verdicts_undecided": 0}


def test_verdict_counts_reach_the_stage_report_the_summary_and_the_manifest(scripted, tmp_path):
    from magpie_hf.run.job import run_recipe

    _, engine = scripted
    engine.rules["Prove"] = "Yes"
    engine.logprobs["Prove"] = YES
    engine.default = "Perhaps."
    source = tmp_path / "problems.jsonl"
    problems = ["Prove P.", "Find x.", "Prove Q.", "Find y.", "Find z."]
    source.write_text("".join(json.dumps({"problem": p}) + "\n" for p in problems))
    recipe = Recipe(
        name="v",
        engine="fake",
        shard_size=2,  # three shards: the counts are summed over them
        source={"path": str(source), "columns": {"problem": "problem"}},
        run_dir=str(tmp_path / "run"),
        output=str(tmp_path / "out"),
        stages=[{"stage": "classify", "steps": [{"name": "proof", "prompt": "Is it a proof? {problem}"}]}],
    )
    run = run_recipe(recipe, push=False)
    expected = {"verdicts_logprobs": 2, "verdicts_text": 0, "verdicts_undecided": 3}
    assert run.result.reports[0].counters == expected
    summary = format_summary(run.result, run.written, run.run_dir)
    assert "classify: yes/no verdicts from logprobs 2, from text 0, undecided 3" in summary.splitlines()
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["stages"][0]["counters"] == expected
    assert "cost" not in manifest and "price" not in manifest  # no price in the engine block
