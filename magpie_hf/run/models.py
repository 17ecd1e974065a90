"""The models a recipe loads, stage by stage, and their resolution before any stage runs.

Each stage that calls the LLM loads its engine (the recipe's model, or the one
its config names); stages also declare the other heavy models they load (a
reward model, the embedder). `check_models` resolves every one of them first:
a Hub id that cannot be fetched stops the run in one line, before any stage.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from magpie_hf.core.recipe import Recipe, RecipeError
from magpie_hf.models.hub import ModelUnreachable, check_reachable
from magpie_hf.models.presets import HUB_ID, Preset, complete, model_for


@dataclass(frozen=True)
class ModelUse:
    """One model a stage loads: `engine` (the LLM, with its preset), `scorer` or `embedder`."""

    stage: str
    kind: str
    name: str
    preset: Preset | None = None


def model_uses(recipe: Recipe) -> list[ModelUse]:
    """Every model the recipe's stages load, in stage order (a model once per stage)."""
    uses = []
    for entry in recipe.stage_entries():
        if entry.stage.needs_model(entry.config):
            preset = model_for(entry.config, recipe.preset())
            uses.append(ModelUse(entry.name, "engine", preset.model_id, preset))
        uses += [ModelUse(entry.name, kind, name) for kind, name in entry.stage.heavy_models(entry.config)]
    return uses


def on_hub(preset_or_name: Preset | str) -> str | None:
    """The Hub id to fetch, or None for a packaged model or a local folder."""
    if isinstance(preset_or_name, Preset):
        if preset_or_name.carrier:
            return None
        name = preset_or_name.model_id
    else:
        name = preset_or_name
    return name if HUB_ID.match(name) and not Path(name).expanduser().is_dir() else None


def check_models(recipe: Recipe, only: list[str] | None = None) -> None:
    """Resolve every model the run will load (of the `only` stages, when given): reachable on the Hub
    (or cached, or local), chat facts derived.

    Raises:
        RecipeError: one line naming the model and the fix.
    """
    for use in model_uses(recipe):
        if only and use.stage not in only:
            continue
        if use.kind == "embedder":  # packaged
            continue
        hub_id = on_hub(use.preset or use.name)
        try:
            if hub_id is not None:
                check_reachable(hub_id, use.preset.revision if use.preset else None)
            if use.preset is not None:
                complete(use.preset)
        except ModelUnreachable as err:
            raise RecipeError(f"{recipe.name}: stages.{use.stage}: {err}") from None
        except (OSError, ValueError) as err:
            raise RecipeError(f"{recipe.name}: stages.{use.stage}: {use.name}: {str(err).splitlines()[0]}") from None
