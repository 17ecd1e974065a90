"""The sample stage: n completions per row in one request each, lists always, per-row seeds, provenance."""

from __future__ import annotations

from magpie_hf.stages.sample import SampleConfig, sample


def test_n_completions_per_row_as_lists_with_reasons_tokens_and_provenance(scripted):
    model, engine = scripted
    engine.rules["What is 2+2?"] = ["<think>hmm</think>\\boxed{4}", "\\boxed{5}"]
    engine.default = "no idea"
    cfg = SampleConfig(label="candidates", n=2, temperature=0.8, seed=3)
    out = sample({"id": ["a", "b"], "problem": ["What is 2+2?", "Other?"]}, cfg, model)
    assert out["candidates"] == [["<think>hmm</think>\\boxed{4}", "\\boxed{5}"], ["no idea", "no idea"]]
    assert out["candidates_finish_reasons"] == [["stop", "stop"], ["stop", "stop"]]
    assert out["candidates_tokens"][1] == [2, 2]
    configs = out["candidates_config"]
    assert configs[0]["n"] == 2 and configs[0]["temperature"] == 0.8 and configs[0]["engine"] == "fake"
    assert configs[0]["seed"] != configs[1]["seed"]
    assert configs[0]["template"].endswith("<|im_start|>assistant\n") and "{problem}" in configs[0]["template"]
    prompt = engine.prompts[0]
    assert prompt.startswith("<|im_start|>system\n") and "What is 2+2?\n\nPlease reason step by step" in prompt
    stripped = sample({"id": ["a"], "problem": ["What is 2+2?"]}, cfg.model_copy(update={"strip_thinking": True}), model)
    assert stripped["candidates"][0][0] == "\\boxed{4}"


def test_columns_follow_the_label_and_the_prompt_placeholders():
    cfg = SampleConfig(label="solver", prompt="Solve: {question}\nHint: {hint}")
    assert sample.stage.input_columns(cfg) == ("id", "question", "hint")
    assert sample.stage.output_columns(cfg) == ("solver", "solver_finish_reasons", "solver_tokens", "solver_config")
    assert sample.stage.needs_model(cfg)


def test_seeds_are_stable_per_row_and_differ_between_labels(scripted):
    model, engine = scripted
    rows = {"id": ["a"], "problem": ["p"]}
    first = sample(rows, SampleConfig(label="x", seed=1), model)["x_config"][0]["seed"]
    again = sample(rows, SampleConfig(label="x", seed=1), model)["x_config"][0]["seed"]
    other = sample(rows, SampleConfig(label="y", seed=1), model)["y_config"][0]["seed"]
    assert first == again != other


def test_completions_keep_the_thinking_block_the_template_opened(scripted):
    model, engine = scripted
    model.chat_prompt = lambda messages: f"<｜User｜>{messages[-1]['content']}<｜Assistant｜><think>\n"  # R1, QwQ
    engine.rules["What is 2+2?"] = "Maybe 5? No, 2+2 is 4.\n</think>\n\nSo \\boxed{4}."
    rows = {"id": ["a"], "problem": ["What is 2+2?"]}
    assert SampleConfig(label="x").strip_thinking is False
    whole = sample(rows, SampleConfig(label="x"), model)["x"][0][0]
    assert whole == "<think>\nMaybe 5? No, 2+2 is 4.\n</think>\n\nSo \\boxed{4}."
    assert sample(rows, SampleConfig(label="x", strip_thinking=True), model)["x"][0][0] == "So \\boxed{4}."
