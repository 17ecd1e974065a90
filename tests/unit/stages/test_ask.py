"""The ask family: a parsed reply per row, a yes/no chain of classes, a list exploded into rows."""

from __future__ import annotations

from magpie_hf.core.stage import Kind
from magpie_hf.stages.ask import AskConfig, ask_rows
from magpie_hf.stages.ask_list import AskListConfig, ask_list
from magpie_hf.stages.classify import ClassifyConfig, ClassStep, classify
from magpie_hf.stages.prompting import parse_answer, parse_list, parse_yes_no


def test_parsers():
    assert parse_list("Problem 1: Find x.\nProblem 2: Prove y.") == ["Find x.", "Prove y."]
    assert parse_list("**Problem 1:** Find the sum.") == ["Find the sum."]
    assert parse_list("No problems") == [] and parse_list("") == []
    assert parse_list("Compute 2+2.") == ["Compute 2+2."]
    assert parse_answer("\\boxed{24}") == "24" and parse_answer("Answer not found") is None
    assert parse_answer("Not found.") is None and parse_answer("not found") is None  # the 135M model's short form
    assert parse_answer("x = 2 or x = 3\nbecause ...") == "x = 2 or x = 3"
    assert parse_yes_no("Yes, it is.") is True and parse_yes_no("no") is False and parse_yes_no("maybe") is None


def test_ask_only_asks_the_rows_it_should(scripted):
    model, engine = scripted
    engine.rules["Prove P"] = "Find the least n such that P(n)."
    cfg = AskConfig(column="converted", prompt="Rewrite: {problem}", only_if={"kind": ["proof"]})
    out = ask_rows({"id": ["a", "b"], "problem": ["Prove P.", "Find x."], "kind": ["proof", "regular"]}, cfg, model)
    assert out == {"converted": ["Find the least n such that P(n).", None], "converted_raw": ["Find the least n such that P(n).", None]}
    assert len(engine.prompts) == 1
    assert ask_rows.stage.input_columns(cfg) == ("id", "problem", "kind")


def test_classify_asks_each_step_only_of_rows_still_open(scripted):
    model, engine = scripted
    engine.rules["PROOF? Prove"] = "Yes"
    engine.rules["CHOICE? Pick"] = "Yes."
    engine.default = "No"
    steps = [ClassStep(name="proof", prompt="PROOF? {problem}"), ClassStep(name="multiple_choice", prompt="CHOICE? {problem}")]
    rows = {"id": ["a", "b", "c"], "problem": ["Prove P.", "Pick (A) or (B).", "Find x."]}
    out = classify(rows, ClassifyConfig(steps=steps), model)
    assert out["problem_type"] == ["proof", "multiple_choice", "regular"]
    assert sum(p.startswith("<|im_start|>") and "CHOICE? Prove P." in p for p in engine.prompts) == 0
    assert len(engine.prompts) == 5  # 3 first-step questions, 2 second-step


def test_ask_list_explodes_rows_and_counts_empty_parents(scripted):
    model, engine = scripted
    engine.rules["first post"] = "Problem 1: Find x.\nProblem 2: Find y."
    engine.default = "No problems"
    cfg = AskListConfig(
        prompt="{forum_post}", column="problem", parent="post_id", keep={"discussion": "forum_discussions"},
        empty_reason="no_problem_in_post",
    )
    rows = {"id": ["t1", "t2"], "domain": ["forum"] * 2, "forum_post": ["first post", "hello"], "forum_discussions": ["d1", None]}
    out = ask_list(rows, cfg, model)
    assert out["id"] == ["t1-p0", "t1-p1", "t2-p0"] and out["post_id"] == ["t1", "t1", "t2"]
    assert out["problem"] == ["Find x.", "Find y.", ""] and out["discussion"] == ["d1", "d1", ""]
    assert out["filter_reason"] == [None, None, "no_problem_in_post"]
    assert ask_list.stage.kind is Kind.EXPLODE and ask_list.stage.drops_rows(cfg)


def test_ask_list_keeps_every_item_unless_capped_and_counts_what_a_cap_drops(scripted):
    model, engine = scripted
    engine.default = "\n".join(f"Problem {k}: Find x{k}." for k in range(1, 8))
    rows = {"id": ["t1", "t2"], "domain": ["forum"] * 2, "forum_post": ["seven problems", "again"]}
    every = ask_list(rows, AskListConfig(prompt="{forum_post}"), model)
    assert len(every["problem"]) == 14 and every["problem"][6] == "Find x7." and sum(every["items_over_limit"]) == 0
    capped = ask_list(rows, AskListConfig(prompt="{forum_post}", max_items=5), model)
    assert capped["id"][:5] == [f"t1-p{k}" for k in range(5)] and len(capped["id"]) == 10
    assert capped["items_over_limit"] == [2, 0, 0, 0, 0] * 2  # on each parent's first row, summed by the runner
    assert ask_list.stage.counters == ("items_over_limit",)
