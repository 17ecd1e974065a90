"""Recipes: YAML files that name a model, a row count and a list of stages.

Every problem is reported as one line naming the file and the key, with what
is allowed, through `RecipeError`; the CLI turns it into exit code 2 before
anything is written.
"""

from __future__ import annotations

import glob
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from magpie_hf.core.pipeline import GENERIC, discover, get_pipeline
from magpie_hf.core.source import Source
from magpie_hf.core.stage import STAGES, Stage
from magpie_hf.engines.settings import EngineSettings
from magpie_hf.models.presets import PLAIN_PROMPT, USER, Preset, known_model, resolve_model


class RecipeError(ValueError):
    """A recipe (or a command-line override of it) is not valid."""


class StageEntry(BaseModel):
    """One stage of a recipe, its parameters already validated by the stage's own config."""

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    stage: Stage
    config: BaseModel
    label: str | None = None

    @property
    def name(self) -> str:
        """The entry's `name:` in the recipe, else its config's `label` (e.g. one sample stage per model), else the stage's."""
        return self.label or getattr(self.config, "label", None) or self.stage.name


class Recipe(BaseModel):
    """A validated recipe; `stages` run in order, each on the previous one's output."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str = ""
    license: str = "cc-by-nc-4.0"
    pretty_name: str | None = None
    pipeline: str = GENERIC.name  # which registered pipeline's tables and card the export uses
    domain: str = "general"
    count: int | None = Field(default=None, gt=0)
    source: Source | None = None
    scale: float = Field(default=1.0, gt=0)
    model: str = "embedded"  # a preset name or number, a Hub id, or a local model folder
    engine: EngineSettings = Field(default_factory=EngineSettings)
    plain_prompt: str = PLAIN_PROMPT  # the prompt of a model without a chat template; {user} is the message
    max_prompt_tokens: int | None = Field(default=None, gt=0)  # default: the context minus max_tokens
    seed: int = 0
    shard_size: int = Field(default=256, gt=0)
    run_dir: str = "runs/{model}_{domain}"
    output: str = "data/{model}_{domain}"
    stages: list[dict[str, Any]] = Field(min_length=1)
    outputs: dict[str, str] = Field(default_factory=dict)
    push_to_hub: str | None = None  # a dataset repo id: push the export when the run completes
    private: bool = False
    test_fraction: float = Field(default=0.02, ge=0, lt=1)

    @model_validator(mode="after")
    def _rows_from_somewhere(self) -> "Recipe":
        if self.count is None and self.source is None:
            raise ValueError("count: required key is missing (or give a source: of existing problems)")
        if self.source is not None:
            self.source.check()
        names = [_entry_name(spec) for spec in self.stages]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"stages: '{duplicates[0]}' appears twice; give each entry its own label")
        return self

    @field_validator("model", mode="before")
    @classmethod
    def _known_model(cls, value: Any) -> str:
        return known_model(str(value))  # `model: 2` in YAML is the preset number

    @field_validator("plain_prompt")
    @classmethod
    def _has_user(cls, value: str) -> str:
        if USER not in value:
            raise ValueError(f"must contain {USER}, where the message goes")
        return value

    def preset(self) -> Preset:
        """The recipe's model with its engine settings (chat facts not derived yet: see `presets.complete`)."""
        return resolve_model(
            self.model,
            self.engine.backend,
            engine_args=self.engine.engine_args(),
            plain_prompt=self.plain_prompt,
            max_prompt_tokens=self.max_prompt_tokens,
        )

    @field_validator("pipeline")
    @classmethod
    def _known_pipeline(cls, value: str) -> str:
        try:
            get_pipeline(value)
        except KeyError as err:
            raise ValueError(err.args[0]) from None
        return value

    @model_validator(mode="after")
    def _known_outputs(self) -> "Recipe":
        tables = get_pipeline(self.pipeline).tables
        names = [_entry_name(spec) for spec in self.stages]
        for table, stage_name in self.outputs.items():
            if table not in tables:
                raise ValueError(f"outputs.{table}: not a table of pipeline '{self.pipeline}'; allowed: {', '.join(tables)}")
            if stage_name not in names:
                raise ValueError(f"outputs.{table}: '{stage_name}' is not a stage of the recipe; allowed: {', '.join(names)}")
        return self

    def rows(self, count: int | None = None) -> int | None:
        """Rows to generate: `count` if given, else count x scale rounded half up to the nearest 10, at least 10.

        Half up (15 -> 20, 25 -> 30), in decimal arithmetic as the original scripts' `bc`, not
        Python's half-to-even `round`. None for a recipe that reads a source without a count (all its rows).
        """
        if count is not None:
            return count
        if self.count is None:
            return None
        tens = (Decimal(self.count) * Decimal(str(self.scale)) / 10).to_integral_value(ROUND_HALF_UP)
        return max(10, int(tens) * 10)

    def stage_entries(self) -> list[StageEntry]:
        """Stage objects with their configs; the recipe seed fills unset `seed` fields."""
        return [_stage_entry(i, spec, self.seed) for i, spec in enumerate(self.stages)]

    def paths(self) -> dict[str, Path | str]:
        """output (a Path) and run_dir (a path or fsspec URL) with `{model}` / `{domain}` / `{name}` filled in."""
        fields = {"model": self.preset().name, "domain": self.domain, "name": self.name}
        return {"run_dir": self.run_dir.format(**fields), "output": Path(self.output.format(**fields))}


class RecipeSet(BaseModel):
    """Several recipes run in turn, exported together (e.g. all six math domains)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str = ""
    recipes: list[str] = Field(min_length=1)
    output: str = "data/{model}_all"
    license: str = "cc-by-nc-4.0"
    pretty_name: str | None = None

    def merged_output(self, model: str) -> Path:
        """The merged export's folder, for the members' model (its preset name)."""
        return Path(self.output.format(model=model, name=self.name, domain="all"))

    def manifest_facts(self) -> dict[str, str | None]:
        """What the merged export's manifest says of the set itself."""
        return {
            "recipe": self.name,
            "description": self.description,
            "license": self.license,
            "pretty_name": self.pretty_name,
        }


def load_recipes(
    path: str | Path,
    domains: list[str] | None = None,
    sets: list[str] | tuple[str, ...] = (),
    mode: str | None = None,
    **overrides: Any,
) -> tuple[list[Recipe], RecipeSet | None]:
    """The recipes a file stands for: itself, or the members of a recipe set (filtered by `domains`).

    Every member is validated before anything runs.
    """
    path = Path(path)
    data = read_recipe_data(path)
    if "recipes" not in data:
        if domains:
            raise RecipeError(f"{path}: --domains needs a multi-domain recipe (a recipe set, with `recipes:`)")
        return [load_recipe(path, sets, mode, **overrides)], None
    try:
        recipe_set = RecipeSet(**data)
    except ValidationError as err:
        raise RecipeError(f"{path}: {_one_line(err, '', RecipeSet)}") from None
    member_overrides = {k: v for k, v in overrides.items() if k != "output"}
    if overrides.get("output"):  # each domain's own export beside the merged one: <output>_<domain>
        member_overrides["output"] = f"{overrides['output']}_{{domain}}"
    members = [load_recipe(path.parent / member, sets, mode, **member_overrides) for member in recipe_set.recipes]
    if domains:
        known = [r.domain for r in members]
        unknown = [d for d in domains if d not in known]
        if unknown:
            raise RecipeError(f"--domains: unknown domain '{unknown[0]}'; allowed: {', '.join(known)}")
        members = [r for r in members if r.domain in domains]
    if overrides.get("output"):
        recipe_set = recipe_set.model_copy(update={"output": overrides["output"]})
    return members, recipe_set


def _stage_entry(index: int, spec: dict[str, Any], seed: int) -> StageEntry:
    discover()
    where = f"stages[{index}]"
    params = dict(spec)
    label = params.pop("name", None)
    name = params.pop("stage", None)
    if name not in STAGES:
        raise RecipeError(f"{where}.stage: unknown stage '{name}'; allowed: {', '.join(sorted(STAGES))}")
    stage = STAGES[name]
    if "seed" in stage.config.model_fields and "seed" not in params:
        params["seed"] = seed
    try:
        config = stage.config(**params)
    except ValidationError as err:
        raise RecipeError(_one_line(err, where, stage.config)) from None
    return StageEntry(stage=stage, config=config, label=label)


def _one_line(err: ValidationError, where: str, model: type[BaseModel]) -> str:
    first = err.errors()[0]
    key = ".".join(str(part) for part in first["loc"])
    location = f"{where}.{key}" if where else key
    if first["type"] == "extra_forbidden":
        return f"{location}: unknown key; allowed: {', '.join(_block(model, first['loc'][:-1]).model_fields)}"
    if first["type"] == "missing":
        return f"{location}: required key is missing"
    message = first["msg"].removeprefix("Value error, ")
    if not key:  # a check across keys: the message names them
        return f"{where + ': ' if where else ''}{message}"
    return f"{location}: {message} (got {first.get('input')!r})"


def _block(model: type[BaseModel], loc: tuple) -> type[BaseModel]:
    """The nested config class at `loc` (e.g. `engine` -> EngineSettings), for the allowed keys of an error."""
    for part in loc:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        if field is None or not (isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)):
            break
        model = field.annotation
    return model


def apply_set(data: dict[str, Any], assignment: str) -> None:
    """Apply one `--set a.b.0.c=VALUE` override in place; VALUE is parsed as YAML."""
    key, sep, raw = assignment.partition("=")
    if not sep or not key:
        raise RecipeError(f"--set {assignment}: expected KEY=VALUE, e.g. stages.0.max_tokens=64")
    try:
        set_path(data, key, yaml.safe_load(raw))
    except (KeyError, IndexError, ValueError, TypeError):
        raise RecipeError(f"--set {assignment}: '{key}' is not a path in the recipe") from None


def _entry_name(spec: Any) -> Any:
    """A stage entry's name in a recipe: its `name`, else its `label`, else its `stage`."""
    return (spec.get("name") or spec.get("label") or spec.get("stage")) if isinstance(spec, dict) else None


def _child(node: Any, part: str) -> Any:
    """`stages.response` finds the stage by name (or label); `stages.2` by index."""
    if isinstance(node, list):
        if part.isdigit():
            return node[int(part)]
        return next(item for item in node if _entry_name(item) == part)
    return node[part]


def set_path(data: dict[str, Any], key: str, value: Any) -> None:
    """Set a dotted path (`stages.response.max_tokens`); the parent must exist."""
    *parents, last = key.split(".")
    node: Any = data
    for part in parents:
        try:
            node = _child(node, part)
        except StopIteration:
            raise KeyError(part) from None
    if isinstance(node, list):
        node[int(last)] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise TypeError(key)


def _merge(base: dict[str, Any], child: dict[str, Any], path: Path) -> dict[str, Any]:
    """`child` over `base`; stages merge by their `stage` name, field by field."""
    merged = {**base, **{k: v for k, v in child.items() if k != "stages"}}
    if "stages" in child:
        stages = [dict(s) for s in base.get("stages", [])]
        names = [_entry_name(s) for s in stages]
        for update in child["stages"]:
            name = _entry_name(update)
            if name not in names:
                raise RecipeError(
                    f"{path}: stages: '{name}' is not a stage of the base recipe; allowed: {', '.join(map(str, names))}"
                )
            stages[names.index(name)].update(update)
        merged["stages"] = stages
    return merged


def read_recipe_data(path: Path) -> dict[str, Any]:
    """YAML of a recipe, with `extends: base.yaml` (relative to the file) resolved."""
    if not path.is_file():
        raise RecipeError(f"{path}: recipe file not found")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f" (line {mark.line + 1})" if mark else ""
        raise RecipeError(f"{path}: not valid YAML{line}: {getattr(err, 'problem', err)}") from None
    if not isinstance(data, dict):
        raise RecipeError(f"{path}: a recipe is a YAML mapping of keys (name, count, stages, ...)")
    base = data.pop("extends", None)
    if base is None:
        return data
    return _merge(read_recipe_data(path.parent / str(base)), data, path)


def _apply_overrides(data: dict[str, Any], overrides: dict[str, Any], where: str) -> None:
    """Set each dotted key of `overrides` in `data`; `where` names the block in the error."""
    for key, value in overrides.items():
        try:
            set_path(data, key, value)
        except (KeyError, IndexError, ValueError, TypeError):
            raise RecipeError(f"{where}.{key}: not a path in the recipe") from None


def _apply_mode(data: dict[str, Any], path: Path, mode: str | None) -> None:
    """`modes: {name: {dotted.key: value}}`, chosen with `--mode name` (e.g. demo: sample data, embedded model)."""
    modes = data.pop("modes", None) or {}
    if mode is None:
        return
    if mode not in modes:
        raise RecipeError(f"{path}: --mode {mode}: the recipe has no such mode; allowed: {', '.join(modes) or 'none'}")
    _apply_overrides(data, modes[mode], f"{path}: modes.{mode}")


def _apply_model_overrides(data: dict[str, Any], path: Path) -> None:
    """`model_overrides: {preset: {dotted.key: value}}`: settings for one model only (e.g. the tiny embedded one)."""
    overrides = data.pop("model_overrides", None) or {}
    if not isinstance(overrides, dict):
        raise RecipeError(f"{path}: model_overrides: a mapping of preset name to {{key: value}}")
    try:
        model = resolve_model(str(data.get("model", "embedded"))).name
    except KeyError:
        return  # reported by the model validator
    _apply_overrides(data, overrides.get(model) or {}, f"{path}: model_overrides.{model}")


def _source_beside_recipe(data: dict[str, Any], path: Path) -> None:
    """A relative `source.path` found nowhere from the working directory is looked up beside the recipe file."""
    source = data.get("source")
    if not isinstance(source, dict) or not isinstance(source.get("path"), str):
        return
    relative = Path(source["path"])
    if relative.is_absolute() or glob.glob(str(relative)):
        return
    beside = path.parent / relative
    if glob.glob(str(beside)):
        data["source"] = {**source, "path": str(beside)}


def load_recipe(
    path: str | Path, sets: list[str] | tuple[str, ...] = (), mode: str | None = None, **overrides: Any
) -> Recipe:
    """Read and validate a recipe file.

    `sets` are `KEY=VALUE` overrides at any depth; `overrides` replace
    top-level keys (None is ignored).
    """
    path = Path(path)
    data = read_recipe_data(path)
    if isinstance(data.get("engine", {}), str):  # `engine: vllm` is the backend alone
        data["engine"] = {"backend": data["engine"]}
    data.setdefault("engine", {})  # so that modes and --set reach engine.<key>
    _apply_mode(data, path, mode)
    backend = overrides.pop("engine", None)
    if backend is not None:
        data["engine"]["backend"] = backend
    data.update({k: v for k, v in overrides.items() if v is not None})
    _apply_model_overrides(data, path)
    for assignment in sets:
        apply_set(data, assignment)
    _source_beside_recipe(data, path)
    try:
        recipe = Recipe(**data)
        recipe.stage_entries()
    except ValidationError as err:
        raise RecipeError(f"{path}: {_one_line(err, '', Recipe)}") from None
    except RecipeError as err:
        raise RecipeError(f"{path}: {err}") from None
    return recipe


__all__ = ["RecipeSet", "load_recipes", "Recipe", "RecipeError", "StageEntry", "load_recipe"]
