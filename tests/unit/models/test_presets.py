"""Presets are data checked against the real chat templates; any folder or Hub id resolves, its facts derived."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jinja2.sandbox import ImmutableSandboxedEnvironment

from magpie_hf.models.carriers import embedded_with_template
from magpie_hf.models.chat_format import derive
from magpie_hf.models.presets import PRESETS, complete, resolve_model, tokenizer

FIXTURES = Path(__file__).resolve().parents[4] / "shared" / "fixtures" / "chat_templates"
QUESTION = "Let $G$ be a group of order 12.\nShow that $G$ has a normal Sylow subgroup."
SYSTEM = "You write hard algebra problems."


def render_fixture(model_id: str, messages: list[dict], add_generation_prompt: bool = False) -> str:
    """Render a fixture template the way transformers does (sandboxed jinja, trim/lstrip blocks)."""
    path = FIXTURES / f"{model_id.replace('/', '__')}.json"
    if not path.exists():
        pytest.fail(f"missing fixture {path}: the chat templates come from ../shared/fixtures/chat_templates/")
    fixture = json.loads(path.read_text())
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.filters["tojson"] = json.dumps
    env.globals["raise_exception"] = lambda message: (_ for _ in ()).throw(ValueError(message))
    return env.from_string(fixture["chat_template"]).render(
        messages=messages,
        bos_token=fixture["bos_token"] or "",
        eos_token=fixture["eos_token"] or "",
        add_generation_prompt=add_generation_prompt,
    )


def conversations() -> list[tuple[str | None, list[dict]]]:
    user = {"role": "user", "content": QUESTION}
    return [(None, [user]), (SYSTEM, [{"role": "system", "content": SYSTEM}, user])]


STORED = [n for n, p in PRESETS.items() if p.prefix_plain is not None]


@pytest.mark.parametrize("name", [n for n in STORED if n != "embedded"])
@pytest.mark.parametrize("system, messages", conversations())
def test_prefix_matches_fixture_template(name, system, messages):
    preset = PRESETS[name]
    rendered = render_fixture(preset.base_model or preset.model_id, messages)
    assert rendered.startswith(preset.magpie_prefix(system) + QUESTION)


@pytest.mark.parametrize("name", STORED)
def test_stored_facts_equal_the_derivation_from_the_fixture(name):
    preset = PRESETS[name]
    facts = derive(lambda m, gen: render_fixture(preset.base_model or preset.model_id, m, gen))
    assert (facts.prefix_plain, facts.prefix_system) == (preset.prefix_plain, preset.prefix_system)
    assert set(facts.stop) <= set(preset.stop)  # the assistant marker among the stored stops
    assert preset.reasoning or not facts.reasoning  # R1-0528 writes <think> itself: reasoning, though its template opens none


def test_the_seeds_models_are_presets_and_only_fixture_backed_ones_store_a_template():
    for name in ("qwen2.5-math-7b", "qwen3-4b-base", "qwen2.5-32b-instruct", "qwq-32b", "deepseek-r1"):
        assert name in PRESETS
    for name in ("qwen2.5-math-7b", "qwen3-4b-base"):  # no fixture: derived from the tokenizer at run time
        assert PRESETS[name].prefix_plain is None and PRESETS[name].chat_format is None
    for preset in PRESETS.values():
        if preset.prefix_plain is not None:
            assert (FIXTURES / f"{(preset.base_model or preset.model_id).replace('/', '__')}.json").exists()


@pytest.mark.parametrize("system, messages", conversations())
def test_embedded_prefix_matches_its_real_tokenizer_and_fixture(embedded, system, messages):
    rendered = tokenizer(embedded).apply_chat_template(messages, tokenize=False)
    assert rendered.startswith(embedded.magpie_prefix(system) + QUESTION)
    assert render_fixture(embedded.model_id, messages) == rendered


def test_no_preset_stops_on_a_newline():
    for preset in PRESETS.values():
        assert all("\n" not in stop for stop in preset.stop)
        assert preset.stop_token_ids or preset.prefix_plain is None


def test_r1_distill_stop_ids_come_from_their_own_tokenizers():
    # DeepSeek-V2's ids (100001, ...) were the original scripts' mistake.
    assert PRESETS["r1-distill-qwen-32b"].stop_token_ids == (151643, 151644, 151645)
    # Llama-70B's turn markers are <｜User｜> 128011 and <｜Assistant｜> 128012 (shared/fixtures README);
    # 128008/128009 are Llama-3 tokens its template never uses.
    assert PRESETS["r1-distill-llama-70b"].stop_token_ids == (128001, 128011, 128012)
    assert all(i < 100000 or i > 100010 for p in PRESETS.values() for i in p.stop_token_ids)


def test_numbers_and_names_resolve():
    assert resolve_model("1").model_id == "deepseek-ai/DeepSeek-R1-Distill-Qwen-32B"
    assert resolve_model("6").name == "qwen2.5-coder-32b"
    assert resolve_model("embedded", engine="transformers").engine == "transformers"
    with pytest.raises(KeyError, match="unknown model '7'"):
        resolve_model("7")
    assert resolve_model("Qwen/QwQ-32B").name == "qwq-32b"  # a preset's own id finds the preset


def test_any_hub_id_and_folder_resolve(tmp_path):
    hub = resolve_model("meta-llama/Llama-3.1-8B-Instruct", engine_args=(("gpu_memory_utilization", 0.95),))
    assert (hub.name, hub.model_id, hub.chat_format) == ("llama-3.1-8b-instruct", "meta-llama/Llama-3.1-8B-Instruct", None)
    assert hub.settings() == {"tensor_parallel_size": 1, "gpu_memory_utilization": 0.95}
    with pytest.raises(KeyError, match="no config.json"):
        resolve_model(str(tmp_path))
    with pytest.raises(KeyError, match="a Hub id .* or a local model folder"):
        resolve_model("not a model")


def test_a_folder_with_another_template_derives_it_from_its_tokenizer(tmp_path):
    r1 = FIXTURES / "deepseek-ai__DeepSeek-R1-Distill-Qwen-32B.json"
    model = complete(resolve_model(str(embedded_with_template(tmp_path / "second-model", r1))))
    bos = tokenizer(model).bos_token or ""
    assert (model.name, model.chat_format, model.derived, model.reasoning) == ("second-model", "derived", True, True)
    assert model.magpie_prefix(None) == bos + "<｜User｜>"
    assert model.magpie_prefix("S") == bos + "S<｜User｜>"
    assert model.stop == ("<｜Assistant｜>",)  # plain text in this tokenizer: a stop string, no id
    assert model.stop_token_ids == (2,)  # the tokenizer's and generation_config's EOS
    assert model.max_model_len == 8192  # from config.json, as vLLM would take it
    assert model.describe()["chat_template"] == "derived"


def test_the_embedded_preset_is_what_derivation_gives_from_its_tokenizer(embedded):
    from dataclasses import replace

    bare = replace(embedded, chat_format=None, prefix_plain=None, prefix_system=None, stop=(), stop_token_ids=())
    derived = complete(bare)
    assert (derived.prefix_plain, derived.prefix_system) == (embedded.prefix_plain, embedded.prefix_system)
    assert derived.stop == embedded.stop and derived.stop_token_ids == (2, 1)  # <|im_end|> (EOS), <|im_start|>


def test_a_base_model_gets_the_plain_prompt_and_no_magpie_prefix(tmp_path):
    model = complete(resolve_model(str(embedded_with_template(tmp_path / "base", None)), plain_prompt="Q: {user}\nA:"))
    assert model.chat_format == "plain" and model.stop == ("\nQ:",)
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "1+1?"}]
    assert model.chat_prompt(messages) == "Be brief.\n\nQ: 1+1?\nA:"
    with pytest.raises(ValueError, match="has no chat template"):
        model.magpie_prefix(None)
