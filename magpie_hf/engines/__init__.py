"""Generation backends behind one interface, looked up in a registry and built lazily once per process.

`BACKENDS` maps a backend name (a recipe's `engine:`) to a loader
`preset -> Engine`; tests register a scripted fake (`engines.fake`) or put a
ready engine in place with `install_engine`.
"""

from __future__ import annotations

import atexit
import os
import time
from typing import Callable

from magpie_hf.engines.base import USAGE, Completion, Engine, Sampling, Usage
from magpie_hf.models.presets import Preset


def _vllm(preset: Preset) -> Engine:
    from magpie_hf.engines.vllm import VLLMEngine  # vllm is heavy and optional: imported on first use

    return VLLMEngine(preset.model_path(), preset.revision, preset.max_model_len, preset.tensor_parallel_size)


def _transformers(preset: Preset) -> Engine:
    from magpie_hf.engines.transformers import TransformersEngine  # torch/transformers: on first use

    return TransformersEngine(preset.model_path(), preset.revision)


BACKENDS: dict[str, Callable[[Preset], Engine]] = {"vllm": _vllm, "transformers": _transformers}

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


def generate(preset: Preset, prompts: list, sampling: Sampling | list[Sampling]) -> list[list[Completion]]:
    """`get_engine(preset).generate(...)`, without building an engine for no prompts."""
    return get_engine(preset).generate(prompts, sampling) if prompts else []


__all__ = [
    "BACKENDS",
    "USAGE",
    "Completion",
    "Engine",
    "Sampling",
    "Usage",
    "close_engines",
    "generate",
    "get_engine",
    "install_engine",
    "register_backend",
]
