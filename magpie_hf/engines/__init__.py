"""Generation backends behind one interface, looked up in a registry and built lazily once per process.

`BACKENDS` maps a backend name (a recipe's `engine:`) to a loader
`preset -> Engine`; tests register a scripted fake (`engines.fake`) or put a
ready engine in place with `install_engine`.

`generate` is the one call stages make. It never lets one row crash a run: a
prompt that does not fit the model's context is not sent, a batch the engine
fails on is retried one prompt at a time, and the rows of the prompts that
still fail are named in `FAILED` (row id -> `prompt_too_long` or
`generation_failed`) for the runner to drop with that `filter_reason`.
"""

from __future__ import annotations

import atexit
import logging
import os
import time
from typing import Callable, Sequence

from magpie_hf.engines.base import USAGE, Completion, Engine, Prompt, Sampling, Usage, per_prompt
from magpie_hf.models.presets import Preset, tokenizer

log = logging.getLogger(__name__)

PROMPT_TOO_LONG, GENERATION_FAILED = "prompt_too_long", "generation_failed"
FAILED: dict[str, str] = {}  # row id -> why its prompt got no completion; cleared by the runner per batch


def _vllm(preset: Preset) -> Engine:
    from magpie_hf.engines.vllm import VLLMEngine  # vllm is heavy and optional: imported on first use

    return VLLMEngine(preset.model_path(), preset.revision, preset.settings())


def _transformers(preset: Preset) -> Engine:
    from magpie_hf.engines.transformers import TransformersEngine  # torch/transformers: on first use

    return TransformersEngine(preset.model_path(), preset.revision)


def _openai(preset: Preset) -> Engine:
    from magpie_hf.engines.api import DEFAULT_CONCURRENCY, OpenAIEngine, api_key  # httpx: on first use

    settings, tok = preset.settings(), tokenizer(preset)
    return OpenAIEngine(
        settings["base_url"],
        settings.get("model") or preset.model_path(),
        api_key(settings.get("api_key_env")),
        settings.get("max_concurrency") or DEFAULT_CONCURRENCY,
        count_tokens=lambda text: len(tok.encode(text, add_special_tokens=False)),
    )


BACKENDS: dict[str, Callable[[Preset], Engine]] = {"vllm": _vllm, "transformers": _transformers, "openai": _openai}

_ENGINES: dict[tuple[str, str], tuple[int, Engine]] = {}


def register_backend(name: str, loader: Callable[[Preset], Engine]) -> None:
    """Make `engine: <name>` available to recipes and `--engine`."""
    BACKENDS[name] = loader


def install_engine(preset: Preset, engine: Engine) -> None:
    """Use `engine` for this preset in this process (tests put a scripted engine in place this way)."""
    _ENGINES[(preset.engine, preset.model_id)] = (os.getpid(), engine)


def close_engines() -> None:
    """Shut down and forget every cached engine, freeing its memory."""
    for key in list(_ENGINES):
        _, engine = _ENGINES.pop(key)
        close = getattr(engine, "close", None)
        if close is not None:
            close()


atexit.register(close_engines)  # a clean exit: no "engine core exited unexpectedly" at shutdown


def get_engine(preset: Preset) -> Engine:
    """The process-wide engine for a preset, built on first use.

    One model at a time: loading another one first shuts the current engine
    down (vLLM takes most of a GPU's memory). Engines are never passed through
    `Dataset.map` kwargs (that would break its fingerprint) and must not cross
    a fork into `num_proc` workers.
    """
    key = (preset.engine, preset.model_id)
    if key in _ENGINES:
        pid, engine = _ENGINES[key]
        if pid != os.getpid():
            raise RuntimeError("an engine cannot be used in a forked worker: run generation stages with num_proc=None")
        return engine
    if preset.engine not in BACKENDS:
        raise ValueError(f"unknown engine '{preset.engine}'; allowed: {', '.join(BACKENDS)}")
    close_engines()
    start = time.perf_counter()
    engine = BACKENDS[preset.engine](preset)
    USAGE.load_seconds += time.perf_counter() - start
    install_engine(preset, engine)
    return engine


def generate(
    preset: Preset, prompts: Sequence[Prompt], sampling: Sampling | Sequence[Sampling], ids: Sequence[str] | None = None
) -> list[list[Completion]]:
    """`get_engine(preset).generate(...)` for the prompts that fit; no engine is built for no prompts.

    Args:
        preset: the model (its context and `max_prompt_tokens` bound each prompt).
        prompts: rendered prompts (text or token ids).
        sampling: one Sampling, or one per prompt.
        ids: the row id of each prompt; its failures are recorded in `FAILED`.

    Returns:
        Per prompt, `n` completions; a prompt that was not answered gets empty
        ones whose `finish_reason` says why (`prompt_too_long`, `generation_failed`).
    """
    samplings = per_prompt(sampling, len(prompts))
    lengths = prompt_lengths(preset, prompts)
    reasons: list[str | None] = [
        PROMPT_TOO_LONG if limit is not None and length > limit else None
        for length, limit in zip(lengths, (preset.prompt_limit(s.max_tokens) for s in samplings))
    ]
    sent = [i for i, reason in enumerate(reasons) if reason is None]
    results: list[list[Completion]] = [[Completion("", 0, r)] * s.n for r, s in zip(reasons, samplings)]
    if sent:
        for i, out in zip(sent, _generate_each_on_failure(preset, [prompts[i] for i in sent], [samplings[i] for i in sent])):
            if out is None:
                reasons[i] = GENERATION_FAILED
                out = [Completion("", 0, GENERATION_FAILED)] * samplings[i].n
            results[i] = out
    for i, reason in enumerate(reasons):
        if reason is not None and ids is not None:
            FAILED.setdefault(ids[i], reason)
    return results


def prompt_lengths(preset: Preset, prompts: Sequence[Prompt]) -> list[int]:
    """Tokens of each prompt in the model's tokenizer (no special tokens added: prompts are rendered)."""
    texts = [p for p in prompts if isinstance(p, str)]
    counted = iter(tokenizer(preset)(texts, add_special_tokens=False)["input_ids"] if texts else [])
    return [len(next(counted)) if isinstance(p, str) else len(p) for p in prompts]


def _generate_each_on_failure(
    preset: Preset, prompts: list[Prompt], samplings: list[Sampling]
) -> list[list[Completion] | None]:
    """The engine's completions; if the batch fails, each prompt alone (None for those that fail again).

    When every prompt fails alone too, the engine itself is broken: the first error is raised.
    """
    engine = get_engine(preset)
    try:
        return engine.generate(prompts, samplings)
    except Exception as err:  # noqa: BLE001 - any engine error: find the prompts that cause it
        log.warning("a batch of %d prompts failed (%s); retrying them one at a time", len(prompts), err)
        first = err
    outs: list[list[Completion] | None] = []
    for prompt, sampling in zip(prompts, samplings):
        try:
            outs.append(engine.generate([prompt], [sampling])[0])
        except Exception as err:  # noqa: BLE001
            log.warning("a prompt failed alone, its row is dropped: %s", err)
            outs.append(None)
    if all(out is None for out in outs):
        raise first
    return outs


__all__ = [
    "BACKENDS",
    "USAGE",
    "Completion",
    "Engine",
    "FAILED",
    "GENERATION_FAILED",
    "PROMPT_TOO_LONG",
    "Sampling",
    "Usage",
    "close_engines",
    "generate",
    "get_engine",
    "install_engine",
    "register_backend",
]
