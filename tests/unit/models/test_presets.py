"""Every preset's Magpie prefix is exactly what its real chat template renders before the question."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jinja2.sandbox import ImmutableSandboxedEnvironment

from magpie_hf.models.presets import PRESETS, get_preset, tokenizer

FIXTURES = Path(__file__).resolve().parents[4] / "shared" / "fixtures" / "chat_templates"
QUESTION = "Let $G$ be a group of order 12.\nShow that $G$ has a normal Sylow subgroup."
SYSTEM = "You write hard algebra problems."


def render_fixture(model_id: str, messages: list[dict]) -> str:
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
        add_generation_prompt=False,
    )


def conversations() -> list[tuple[str | None, list[dict]]]:
    user = {"role": "user", "content": QUESTION}
    return [(None, [user]), (SYSTEM, [{"role": "system", "content": SYSTEM}, user])]


@pytest.mark.parametrize("name", [n for n in PRESETS if n != "embedded"])
@pytest.mark.parametrize("system, messages", conversations())
def test_prefix_matches_fixture_template(name, system, messages):
    preset = PRESETS[name]
    rendered = render_fixture(preset.base_model or preset.model_id, messages)
    assert rendered.startswith(preset.magpie_prefix(system) + QUESTION)


@pytest.mark.parametrize("system, messages", conversations())
def test_embedded_prefix_matches_its_real_tokenizer_and_fixture(embedded, system, messages):
    rendered = tokenizer(embedded).apply_chat_template(messages, tokenize=False)
    assert rendered.startswith(embedded.magpie_prefix(system) + QUESTION)
    assert render_fixture(embedded.model_id, messages) == rendered


def test_no_preset_stops_on_a_newline():
    for preset in PRESETS.values():
        assert all("\n" not in stop for stop in preset.stop)
        assert preset.stop_token_ids


def test_r1_distill_stop_ids_come_from_their_own_tokenizers():
    # DeepSeek-V2's ids (100001, ...) were the original scripts' mistake.
    assert PRESETS["r1-distill-qwen-32b"].stop_token_ids == (151643, 151644, 151645)
    # Llama-70B's turn markers are <｜User｜> 128011 and <｜Assistant｜> 128012 (shared/fixtures README);
    # 128008/128009 are Llama-3 tokens its template never uses.
    assert PRESETS["r1-distill-llama-70b"].stop_token_ids == (128001, 128011, 128012)
    assert all(i < 100000 or i > 100010 for p in PRESETS.values() for i in p.stop_token_ids)


def test_numbers_and_names_resolve():
    assert get_preset("1").model_id == "deepseek-ai/DeepSeek-R1-Distill-Qwen-32B"
    assert get_preset("6").name == "qwen2.5-coder-32b"
    assert get_preset("embedded", engine="transformers").engine == "transformers"
    with pytest.raises(KeyError, match="unknown model preset '7'"):
        get_preset("7")
