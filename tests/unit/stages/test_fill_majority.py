"""fill_majority: a given answer stays; a row without one gets its completions' majority answer, if it passes the rule."""

from __future__ import annotations

from magpie_hf.stages.fill_majority import FillMajorityConfig, fill_majority


def test_fill_majority_keeps_given_answers_and_fills_the_rest(embedded):
    batch = {
        "id": ["a", "b", "c"],
        "answer": ["5", None, None],
        "solver": [["\\boxed{1}"] * 3, ["\\boxed{1/2}", "\\boxed{0.5}", "\\boxed{3}"], ["\\boxed{1}", "\\boxed{2}", "x"]],
    }
    cfg = FillMajorityConfig(columns=["solver"], workers=1)
    out = fill_majority(batch, cfg, embedded)
    assert out["expected_answer"] == ["5", "1/2", None]  # 1/2 and 0.5 vote together; one vote each is no majority
    assert out["expected_answer_source"] == ["given", "majority", None]
    assert out["expected_answer_votes"] == [0, 2, 1]
    assert fill_majority.stage.input_columns(cfg) == ("id", "solver", "answer")
    assert not fill_majority.stage.needs_model(cfg)
