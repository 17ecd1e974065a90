"""Generation backends behind one interface, looked up in a registry; a run loads them (`run.context`).

`BACKENDS` maps a backend name (a recipe's `engine:`) to a loader
`preset -> Engine`; tests register a scripted fake (`engines.fake`).

`generate` is the one call a run makes for its stages. It never lets one row
crash a run: a prompt that does not fit the model's context is not sent, a
batch the engine fails on is retried one prompt at a time, and the prompts
that still fail get a reason (`prompt_too_long`, `generation_failed`) for the
runner to drop their rows with.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Sequence

from magpie_hf.engines.base import (
    Completion,
    Engine,
    EngineRefusal,
    PartialFailure,
    Prompt,
    Sampling,
    Usage,
    per_prompt,
)
from magpie_hf.models.presets import Preset, tokenizer

log = logging.getLogger(__name__)

PROMPT_TOO_LONG, GENERATION_FAILED = "prompt_too_long", "generation_failed"


def _vllm(preset: Preset) -> Engine:
    from magpie_hf.engines.vllm import VLLMEngine  # vllm is heavy and optional: imported on first use

    return VLLMEngine(preset.model_path(), preset.revision, preset.settings())


def _transformers(preset: Preset) -> Engine:
    from magpie_hf.engines.transformers import TransformersEngine  # torch/transformers: on first use

    return TransformersEngine(preset.model_path(), preset.revision)


def _openai(preset: Preset) -> Engine:
    from magpie_hf.engines.api import DEFAULT_CONCURRENCY, OpenAIEngine, api_key  # aiohttp: on first use

    settings, tok = preset.settings(), tokenizer(preset)
    return OpenAIEngine(
        settings["base_url"],
        settings.get("model") or preset.model_path(),
        api_key(settings.get("api_key_env")),
        settings.get("max_concurrency") or DEFAULT_CONCURRENCY,
        count_tokens=lambda text: len(tok.encode(text, add_special_tokens=False)),
        n_per_request=settings.get("n_per_request"),
        requests_per_minute=settings.get("requests_per_minute"),
        tokens_per_minute=settings.get("tokens_per_minute"),
    )


BACKENDS: dict[str, Callable[[Preset], Engine]] = {"vllm": _vllm, "transformers": _transformers, "openai": _openai}
REMOTE_BACKENDS = frozenset({"openai"})  # their model runs elsewhere: it holds no device here


def register_backend(name: str, loader: Callable[[Preset], Engine]) -> None:
    """Make `engine: <name>` available to recipes and `--engine`."""
    BACKENDS[name] = loader


def engine_devices(preset: Preset, gpus: int | None = None) -> tuple[str, ...]:
    """The devices a preset's engine occupies: its tensor-parallel GPUs, the CPU, or none for a remote server.

    Args:
        preset: the model and its engine settings.
        gpus: GPUs this process sees (default: asks torch).
    """
    if preset.engine in REMOTE_BACKENDS:
        return ()
    if gpus is None:
        from magpie_hf.core.hardware import visible_gpus  # noqa: PLC0415

        gpus = visible_gpus()
    if not gpus:
        return ("cpu",)
    size = preset.settings().get("tensor_parallel_size", 1) if preset.engine == "vllm" else 1
    return tuple(f"cuda:{i}" for i in range(size))


@dataclass
class Generated:
    """What `generate` returns: completions, a failure reason per prompt (None when answered), and the counts."""

    outputs: list[list[Completion]]
    reasons: list[str | None]
    usage: Usage


def generate(
    engine: Callable[[], Engine], preset: Preset, prompts: Sequence[Prompt], sampling: Sampling | Sequence[Sampling]
) -> Generated:
    """The engine's completions for the prompts that fit; `engine()` is not called for no prompts.

    Args:
        engine: returns the loaded engine (called once, only when a prompt is sent).
        preset: the model (its context and `max_prompt_tokens` bound each prompt).
        prompts: rendered prompts (text or token ids).
        sampling: one Sampling, or one per prompt.

    Returns:
        Per prompt, `n` completions; a prompt that was not answered gets empty
        ones whose `finish_reason` says why, and that reason in `reasons`.
    """
    samplings = per_prompt(sampling, len(prompts))
    lengths = prompt_lengths(preset, prompts)
    reasons: list[str | None] = [
        PROMPT_TOO_LONG if limit is not None and length > limit else None
        for length, limit in zip(lengths, (preset.prompt_limit(s.max_tokens) for s in samplings))
    ]
    sent = [i for i, reason in enumerate(reasons) if reason is None]
    results: list[list[Completion]] = [[Completion("", 0, r)] * s.n for r, s in zip(reasons, samplings)]
    usage = Usage(requests=len(sent))
    if sent:
        outs = _generate_each_on_failure(engine(), [prompts[i] for i in sent], [samplings[i] for i in sent], usage)
        for i, out in zip(sent, outs):
            if out is None:
                reasons[i] = GENERATION_FAILED
                out = [Completion("", 0, GENERATION_FAILED)] * samplings[i].n
            results[i] = out
    answered = [i for i in sent if reasons[i] is None]
    usage.prompt_tokens = sum(lengths[i] for i in answered)
    usage.generated_tokens = sum(c.num_tokens for i in answered for c in results[i])
    return Generated(results, reasons, usage)


def prompt_lengths(preset: Preset, prompts: Sequence[Prompt]) -> list[int]:
    """Tokens of each prompt in the model's tokenizer (no special tokens added: prompts are rendered)."""
    texts = [p for p in prompts if isinstance(p, str)]
    counted = iter(tokenizer(preset)(texts, add_special_tokens=False)["input_ids"] if texts else [])
    return [len(next(counted)) if isinstance(p, str) else len(p) for p in prompts]


def _generate_each_on_failure(
    engine: Engine, prompts: list[Prompt], samplings: list[Sampling], usage: Usage
) -> list[list[Completion] | None]:
    """The engine's completions; if the batch fails, each prompt alone (None for those that fail again).

    An engine that tells which prompts failed (`PartialFailure`, the API engine)
    is not asked again: its answered prompts keep their completions. When every
    prompt fails, the engine or its endpoint is broken: the first error is raised.
    """
    try:
        return engine.generate(prompts, samplings, usage)
    except PartialFailure as err:
        if all(out is None for out in err.outputs):
            raise err.errors[0] from None
        for error in err.errors:
            log.warning("a prompt failed, its row is dropped: %s", error)
        return err.outputs
    except Exception as err:  # noqa: BLE001 - any engine error: find the prompts that cause it
        log.warning("a batch of %d prompts failed (%s); retrying them one at a time", len(prompts), err)
        first = err
    outs: list[list[Completion] | None] = []
    for prompt, sampling in zip(prompts, samplings):
        try:
            outs.append(engine.generate([prompt], [sampling], usage)[0])
        except Exception as err:  # noqa: BLE001
            log.warning("a prompt failed alone, its row is dropped: %s", err)
            outs.append(None)
    if all(out is None for out in outs):
        raise first
    return outs


__all__ = [
    "BACKENDS",
    "Completion",
    "Engine",
    "EngineRefusal",
    "GENERATION_FAILED",
    "Generated",
    "PROMPT_TOO_LONG",
    "Prompt",
    "Sampling",
    "Usage",
    "engine_devices",
    "generate",
    "register_backend",
]
