"""What a run would do, from the recipe and the run dir alone: no model is loaded (`magpie-hf plan`).

Per stage: the rows it gets (exact where the earlier stages have finished,
else an upper bound), requests, prompt tokens (each prompt as long as the
model's prompt limit allows) and generated tokens at most, shards done and
pending; with a `price` in the engine block, what those tokens cost at most.
Per model: the order in which the run would load and release it, the device,
the engine's GPU settings and the weight memory (counted from a local folder's
files, else the preset's parameter count), and whether it can be reached. The
load order follows the run context's rule: a heavy model loading onto a device
first releases the one there, unless `engine.share_device`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from magpie_hf.core.recipe import Recipe
from magpie_hf.engines import engine_devices
from magpie_hf.engines.settings import Price
from magpie_hf.models.embeddings import MODEL_NAME as EMBEDDER
from magpie_hf.models.hub import ModelUnreachable, check_reachable
from magpie_hf.models.presets import model_for
from magpie_hf.models.sizes import known_parameters_billion, weight_bytes
from magpie_hf.run import storage
from magpie_hf.run.context import Loaded, evictions
from magpie_hf.run.models import ModelUse, model_uses, on_hub
from magpie_hf.run.plan import kept_rows, plan_stage


@dataclass
class StagePreview:
    """One stage: rows in (`exact` False: at most), requests, prompt and generated tokens at most, shards done
    and pending. `prompt_tokens` is None where the rows or the model's prompt limit are unknown."""

    stage: str
    rows: int | None
    exact: bool
    calls_model: bool
    requests: int | None
    max_tokens: int | None
    shards_done: int
    shards_pending: int | None
    prompt_tokens: int | None = 0

    def max_cost(self, price: Price) -> float | None:
        """What its prompt and generated tokens cost at most; None where either count is unknown."""
        if not self.calls_model:
            return 0.0
        if self.prompt_tokens is None or self.max_tokens is None:
            return None
        return price.cost(self.prompt_tokens, self.max_tokens)


@dataclass
class ModelStep:
    """A load or release the run would do, with where and how much."""

    action: str
    stage: str
    kind: str
    model: str
    devices: tuple[str, ...]
    heavy: bool = True
    weight_bytes: int | None = None
    weight_source: str = "unknown"
    engine: dict = field(default_factory=dict)
    unreachable: str | None = None


@dataclass
class RunPreview:
    """The plan of one recipe: its stages, its model steps, and the devices two models would share."""

    recipe: str
    stages: list[StagePreview]
    steps: list[ModelStep]
    shared: list[str]
    price: Price | None = None


def preview(recipe: Recipe, rows: int, input_fingerprint: str, gpus: int, reachable: dict) -> RunPreview:
    """What running `recipe` on `rows` input rows would do, with `gpus` GPUs visible.

    `reachable` remembers, per Hub id, None or why it cannot be fetched (shared by the recipes of a set).
    """
    stages = stage_previews(recipe, rows, input_fingerprint)
    return RunPreview(recipe.name, stages, *model_steps(recipe, gpus, reachable), recipe.engine.price)


def stage_previews(recipe: Recipe, rows: int, input_fingerprint: str) -> list[StagePreview]:
    """Rows, requests, tokens and shards per stage, following the fingerprints through the run dir."""
    model, run_dir = recipe.preset(), recipe.paths()["run_dir"]
    previews, fp, exact = [], input_fingerprint, True
    for entry in recipe.stage_entries():
        plan = plan_stage(entry, fp, rows if exact else 0, model, run_dir, recipe.shard_size)
        done = [s for s in plan.shards if storage.exists(s.done)] if exact else storage.done_markers(plan.directory)
        calls = entry.stage.needs_model(entry.config)
        max_tokens = getattr(entry.config, "max_tokens", 0)
        per_row = getattr(entry.config, "n", 1) * max_tokens
        prompt_limit = model_for(entry.config, model).prompt_limit(max_tokens) if calls else 0
        known = rows
        asked = None if known is None else known * entry.stage.requests_per_row(entry.config)
        previews.append(
            StagePreview(
                stage=entry.name,
                rows=known,
                exact=exact,
                calls_model=calls,
                requests=asked if calls else 0,
                max_tokens=None if known is None else known * per_row if calls else 0,
                shards_done=len(done),
                shards_pending=len(plan.shards) - len(done) if exact else None,
                prompt_tokens=None if asked is None or prompt_limit is None else asked * prompt_limit,
            )
        )
        if exact and not plan.pending():
            rows = sum(kept_rows(storage.read_json(s.done), entry) for s in plan.shards)
        else:
            exact = False
            rows = None if entry.stage.explodes or rows is None else rows
        fp = plan.fingerprint
    return previews


def model_steps(recipe: Recipe, gpus: int, reachable: dict) -> tuple[list[ModelStep], list[str]]:
    """Loads and releases in run order (the run context's rule), and where two heavy models would sit together."""
    held: dict[tuple, Loaded] = {}
    steps: list[ModelStep] = []
    shared: list[str] = []
    for use in model_uses(recipe):
        step = describe(use, gpus)
        key = (use.kind, step.model, tuple(sorted(step.engine.items())))
        if key in held:
            continue
        for other in evictions(held, step.devices, step.heavy, recipe.engine.share_device):
            steps.append(ModelStep("release", use.stage, held[other].kind, held[other].name, held[other].devices))
            del held[other]
        together = [h.name for h in held.values() if h.heavy and step.heavy and set(h.devices) & set(step.devices)]
        if together:
            shared.append(f"{','.join(step.devices)}: {step.model} beside {', '.join(together)} (engine.share_device)")
        hub_id = on_hub(use.preset or use.name) if use.kind != "embedder" else None
        if hub_id is not None:
            if hub_id not in reachable:
                reachable[hub_id] = unreachable_reason(hub_id, use.preset.revision if use.preset else None)
            step.unreachable = reachable[hub_id]
        steps.append(step)
        held[key] = Loaded(step.kind, step.model, step.devices, step.heavy, None)
    steps += [ModelStep("release", "end", h.kind, h.name, h.devices) for h in held.values()]
    return steps, shared


def unreachable_reason(hub_id: str, revision: str | None) -> str | None:
    """None when the Hub model can be fetched (or is cached), else the one-line reason and fix."""
    try:
        check_reachable(hub_id, revision)
    except ModelUnreachable as err:
        return str(err)
    return None


def describe(use: ModelUse, gpus: int) -> ModelStep:
    """The load step of one model: devices, whether it is heavy there, engine settings and weight memory."""
    if use.preset is not None:
        preset = use.preset
        settings = preset.settings()
        devices = engine_devices(preset, gpus)
        dtype = preset.weight_dtype or settings.get("dtype") or "auto"
        size, source = weight_bytes(preset.model_path(), dtype, preset.parameters_billion)
        engine = {"backend": preset.engine, **{k: settings[k] for k in ENGINE_SHOWN if k in settings}}
        return ModelStep("load", use.stage, "engine", preset.model_id, devices, bool(devices), size, source, engine)
    device = "cuda:0" if gpus else "cpu"
    name = EMBEDDER if use.kind == "embedder" else use.name
    size, source = weight_bytes(name, "bfloat16" if gpus else "float32", known_parameters_billion(name))
    heavy = use.kind != "embedder" or bool(gpus)  # as in the run: the embedder is light on a CPU
    return ModelStep("load", use.stage, use.kind, use.name, (device,), heavy, size, source)


ENGINE_SHOWN = ("tensor_parallel_size", "gpu_memory_utilization", "max_model_len", "dtype", "quantization")
