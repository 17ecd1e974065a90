"""A run's own state: the models it loaded, its token and request counts, its row failures.

One `RunContext` is made per run (the CLI makes one per command, `run_recipe`
one per call) and passed down to the executor, the shards and the stages;
nothing run-scoped lives at module level. Closing it releases every model it
loaded, error or not.

Heavy models (a vLLM or transformers engine, a reward model, an embedder on a
GPU) load through `RunContext.load`: before one loads onto a device, the heavy
model there is released, unless the recipe's `engine: {share_device: true}`
says both fit. Every load and release is logged and kept in `events`, in order,
with its device and seconds, for the manifest.

Stages see the run through a `BoundModel`: the stage's model (a `Preset`: its
chat facts are read from it as from the preset) bound to the run, with
`generate` and the run's scorer, embedder and sandbox, and the token counts of its shard.
Shards of one stage may run in several threads at once (streaming): loads and
counts are guarded by the context's lock.

Example:
    >>> with RunContext() as run:                              # doctest: +SKIP
    ...     model = run.bind(complete(resolve_model("embedded")))
    ...     model.generate(["2+2="], Sampling(max_tokens=4), ids=["r0"])
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable, Sequence

from magpie_hf.engines import BACKENDS, Completion, Engine, Prompt, Sampling, Usage, engine_devices, generate
from magpie_hf.models.presets import Preset
from magpie_hf.sandbox import Sandbox, SandboxLimits

log = logging.getLogger(__name__)


@dataclass
class Loaded:
    """A model the run holds: what it is, where, and the object itself."""

    kind: str  # engine, scorer, embedder or sandbox
    name: str
    devices: tuple[str, ...]
    heavy: bool
    value: Any


class RunContext:
    """Everything one run holds; use as a context manager, or call `close`.

    Args:
        share_device: heavy models may stay loaded side by side on a device (the recipe's
            `engine.share_device`, for a big GPU and small models).
    """

    def __init__(self, share_device: bool = False):
        self.share_device = share_device
        self.usage = Usage()
        self.events: list[dict] = []
        self.loaded: dict[tuple, Loaded] = {}
        self.stage: str | None = None  # the stage running now, named in load events
        self.lock = threading.RLock()

    def __enter__(self) -> "RunContext":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def load(
        self,
        key: tuple,
        kind: str,
        name: str,
        devices: tuple[str, ...],
        loader: Callable[[], Any],
        heavy: bool = True,
        usage: Usage | None = None,
    ) -> Any:
        """The model under `key`, loaded now if the run does not hold it yet (its seconds also go to `usage`).

        A heavy model first releases the heavy models that hold any of its
        devices (unless `share_device`); a light one (an embedder on a CPU)
        neither releases nor is released.
        """
        with self.lock:
            if key in self.loaded:
                return self.loaded[key].value
            for other in evictions(self.loaded, devices, heavy, self.share_device):
                self.release(other)
            start = time.perf_counter()
            value = loader()
            seconds = time.perf_counter() - start
            for counter in (self.usage, usage):
                if counter is not None:
                    counter.load_seconds += seconds
            self.loaded[key] = Loaded(kind, name, devices, heavy, value)
            self._event("load", self.loaded[key], seconds)
            return value

    def release(self, key: tuple) -> None:
        """Close one held model (its `close()` frees its memory and processes) and forget it."""
        held = self.loaded.pop(key)
        start = time.perf_counter()
        close = getattr(held.value, "close", None)
        if close is not None:
            close()
        self._event("release", held, time.perf_counter() - start)

    def close(self) -> None:
        """Release every model the run loaded, in load order."""
        with self.lock:
            for key in list(self.loaded):
                self.release(key)

    def _event(self, action: str, held: Loaded, seconds: float) -> None:
        event = {
            "event": action,
            "kind": held.kind,
            "model": held.name,
            "device": ",".join(held.devices),
            "seconds": round(seconds, 2),
            "stage": self.stage,
        }
        self.events.append(event)
        log.info(
            "%s %s %s on %s (%.1f s, stage %s)", action, held.kind, held.name, event["device"], seconds, self.stage
        )

    def requests_in_flight(self) -> int | None:
        """Requests the run's API engines have sent and not had answered; None when it holds no such engine."""
        with self.lock:
            counts = [held.value.in_flight for held in self.loaded.values() if hasattr(held.value, "in_flight")]
        return sum(counts) if counts else None

    def install(self, preset: Preset, engine: Engine) -> None:
        """Use a ready `engine` for `preset` in this run (tests put a scripted engine in place this way)."""
        self.loaded[engine_key(preset)] = Loaded("engine", preset.model_id, engine_devices(preset), False, engine)

    def engine(self, preset: Preset, usage: Usage | None = None) -> Engine:
        """The run's engine for `preset` (by backend, model, revision and engine settings), loaded on first use."""
        if preset.engine not in BACKENDS:
            raise ValueError(f"unknown engine '{preset.engine}'; allowed: {', '.join(BACKENDS)}")
        devices = engine_devices(preset)
        loader = partial(BACKENDS[preset.engine], preset)
        return self.load(engine_key(preset), "engine", preset.model_id, devices, loader, bool(devices), usage)

    def scorer(self, name: str, max_length: int, batch_size: int, usage: Usage | None = None):
        """The reward model `name` (a `RewardModelScorer`), on accelerate's device for this process."""
        from magpie_hf.models.reward_model import RewardModelScorer, process_state  # noqa: PLC0415 - torch

        device = str(process_state().device)
        return self.load(
            ("scorer", name, max_length, batch_size),
            "scorer",
            name,
            (_indexed(device),),
            partial(RewardModelScorer.load, name, max_length=max_length, batch_size=batch_size),
            usage=usage,
        )

    def embedder(self, usage: Usage | None = None):
        """The sentence embedder (`models.embeddings.Embedder`): heavy on a GPU, light on a CPU."""
        from magpie_hf.models.embeddings import MODEL_NAME, Embedder, embedder_device  # noqa: PLC0415 - torch

        device = embedder_device()
        loader = partial(Embedder.load, device)
        return self.load(("embedder",), "embedder", MODEL_NAME, (_indexed(device),), loader, device != "cpu", usage)

    def sandbox(self, limits: SandboxLimits) -> Sandbox:
        """The run's sandbox for model-written Python under `limits`: one per limits, closed with the run."""
        return self.load(("sandbox", limits), "sandbox", "python", ("cpu",), partial(Sandbox, limits), heavy=False)

    def bind(self, preset: Preset, usage: Usage | None = None) -> "BoundModel":
        """`preset` as a stage sees it, counting into `usage` (its shard's) and the run's totals."""
        return BoundModel(preset, self, usage or Usage())


def evictions(loaded: dict[tuple, Loaded], devices: tuple[str, ...], heavy: bool, share_device: bool) -> list[tuple]:
    """The held models to release before a model loads onto `devices`: the heavy ones there, unless shared."""
    if not heavy or share_device:
        return []
    return [key for key, held in loaded.items() if held.heavy and set(held.devices) & set(devices)]


def _indexed(device: str) -> str:
    """`cuda` as `cuda:0`, so that it meets an engine's `cuda:0`."""
    return "cuda:0" if device == "cuda" else device


def engine_key(preset: Preset) -> tuple:
    """What makes two engines different: backend, model, revision and every engine setting."""
    return ("engine", preset.engine, preset.model_path(), preset.revision, tuple(sorted(preset.settings().items())))


@dataclass
class BoundModel:
    """A stage's model bound to the run that loads it.

    Reads of preset facts (`chat_prompt`, `stop`, `magpie_prefix`, ...) go to
    `preset`. `failures` maps the row ids passed to `generate` to why their
    prompt got no completion (`prompt_too_long`, `generation_failed`); the
    shard runner drops those rows with that `filter_reason`. `usage` counts
    this shard's tokens, requests and model-load seconds.
    """

    preset: Preset
    run: RunContext
    usage: Usage
    failures: dict[str, str] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.preset, name)

    def generate(
        self, prompts: Sequence[Prompt], sampling: Sampling | Sequence[Sampling], ids: Sequence[str] | None = None
    ) -> list[list[Completion]]:
        """Per prompt, `n` completions from the run's engine (none is loaded for no prompts).

        Args:
            prompts: rendered prompts (text or token ids).
            sampling: one Sampling, or one per prompt.
            ids: the row id of each prompt; the rows whose prompt fails are recorded in `failures`.

        Returns:
            Per prompt, `n` completions; an unanswered prompt gets empty ones whose
            `finish_reason` says why.
        """
        generated = generate(lambda: self.run.engine(self.preset, self.usage), self.preset, prompts, sampling)
        self.usage.add(generated.usage)
        with self.run.lock:
            self.run.usage.add(generated.usage)
        for i, reason in enumerate(generated.reasons):
            if reason is not None and ids is not None:
                self.failures.setdefault(ids[i], reason)
        return generated.outputs

    def scorer(self, name: str, max_length: int, batch_size: int):
        """The run's reward model `name` (see `RunContext.scorer`)."""
        return self.run.scorer(name, max_length, batch_size, self.usage)

    def embedder(self):
        """The run's sentence embedder (see `RunContext.embedder`)."""
        return self.run.embedder(self.usage)

    def sandbox(self, limits: SandboxLimits) -> Sandbox:
        """The run's sandbox under `limits` (see `RunContext.sandbox`)."""
        return self.run.sandbox(limits)
