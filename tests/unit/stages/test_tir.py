"""The tir stage: a scripted model writes code, the real sandbox runs it, the model reads the output and goes on."""

from __future__ import annotations

from magpie_hf.stages.tir import NONE_REMAINING, REMAINING, TirConfig, pending_code, tir

PROBLEM = "What is (2 + 3) * 4?"
ROWS = {"id": ["p1"], "problem": [PROBLEM]}


def test_a_two_execution_transcript_is_code_output_continuation_then_the_boxed_answer(scripted):
    model, engine = scripted
    engine.rules["```output\n20\n"] = "The product is 20, so the answer is \\boxed{20}."
    engine.rules["```output\n5\n"] = "Now multiply by 4.\n<tool_call>\nprint(x * 4)\n"  # x from the first cell
    engine.default = "First the sum.\n<tool_call>\nx = 2 + 3\nprint(x)\n"
    out = tir(ROWS, TirConfig(label="solver", max_code_executions=2), model)
    assert out["solver"] == [
        [
            "First the sum.\n<tool_call>\nx = 2 + 3\nprint(x)\n</tool_call>\n```output\n5\n```\n"
            + REMAINING.format(remaining=1)
            + "Now multiply by 4.\n<tool_call>\nprint(x * 4)\n</tool_call>\n```output\n20\n```\n"
            + NONE_REMAINING
            + "The product is 20, so the answer is \\boxed{20}."
        ]
    ]
    counts = [out[f"solver_code_{name}"] for name in ("executions", "errors", "timeouts")]
    assert counts == [[[2]], [[0]], [[0]]]
    assert out["solver_finish_reasons"] == [["stop"]]
    assert len(engine.prompts) == 3  # one request per round, each on the whole transcript so far
    first = engine.prompts[0]
    assert "You may perform up to 2 Python code calls" in first and PROBLEM in first
    assert engine.prompts[2].startswith(first) and engine.prompts[2].endswith(NONE_REMAINING)
    assert model.usage.counters["code_executions"] == 2 and model.usage.counters["code_errors"] == 0


def test_failing_code_returns_its_error_to_the_model_and_is_not_replayed(scripted):
    model, engine = scripted
    engine.rules["ZeroDivisionError"] = "Division by zero; the answer is \\boxed{0}."
    engine.default = "<tool_call>\nprint(1 / 0)\n"
    out = tir(ROWS, TirConfig(label="solver", n=2, max_code_executions=3), model)
    for transcript in out["solver"][0]:
        assert "ZeroDivisionError" in transcript and transcript.endswith("\\boxed{0}.")
    assert out["solver_code_errors"] == [[1, 1]] and out["solver_code_executions"] == [[1, 1]]
    assert model.usage.counters["code_errors"] == 2


def test_a_block_that_runs_too_long_is_a_timeout_and_the_solution_goes_on(scripted):
    model, engine = scripted
    engine.rules["```output"] = "No result in time: \\boxed{1}."
    engine.default = "<tool_call>\nwhile True:\n    pass\n"
    cfg = TirConfig(label="solver", max_code_executions=1, sandbox={"wall_seconds": 1, "cpu_seconds": 1})
    out = tir(ROWS, cfg, model)
    assert out["solver_code_timeouts"] == [[1]] and out["solver_code_errors"] == [[0]]
    assert out["solver"][0][0].endswith(NONE_REMAINING + "No result in time: \\boxed{1}.")


def test_once_the_executions_run_out_a_new_block_is_closed_but_not_run(scripted):
    model, engine = scripted
    engine.default = "Again.\n<tool_call>\nprint(7)\n"
    out = tir(ROWS, TirConfig(label="solver", max_code_executions=1, add_remaining_code_executions=False), model)
    assert out["solver"][0][0] == (
        "Again.\n<tool_call>\nprint(7)\n</tool_call>\n```output\n7\n```\nAgain.\n<tool_call>\nprint(7)\n</tool_call>"
    )
    assert out["solver_code_executions"] == [[1]] and len(engine.prompts) == 2


def test_a_solution_without_code_takes_one_request_and_each_solution_has_its_own_seed(scripted):
    model, engine = scripted
    engine.default = "Mentally: \\boxed{20}."
    sent, generate = [], engine.generate
    engine.generate = lambda prompts, sampling, usage=None: sent.extend(sampling) or generate(prompts, sampling, usage)
    out = tir(ROWS, TirConfig(label="solver", n=3), model)
    assert out["solver"] == [["Mentally: \\boxed{20}."] * 3] and out["solver_code_executions"] == [[0, 0, 0]]
    assert len(engine.prompts) == 3 and out["solver_config"][0]["n"] == 3
    assert [s.n for s in sent] == [1, 1, 1] and len({s.seed for s in sent}) == 3
    assert all("</tool_call>" in s.stop for s in sent)
    assert tir.stage.input_columns(TirConfig(label="solver")) == ("id", "problem")


def test_pending_code_is_the_block_the_text_ends_in_or_ends_by_closing():
    cfg = TirConfig(label="solver")
    assert pending_code("a <tool_call>\nprint(1)\n", cfg) == "print(1)"
    assert pending_code("a <tool_call>\nprint(1)\n</tool_call>", cfg) == "print(1)"  # a server that keeps the stop
    assert pending_code("a <tool_call>\nprint(1)\n</tool_call>\n```output\n1\n```\nso 1", cfg) is None
    assert pending_code("no code at all", cfg) is None
