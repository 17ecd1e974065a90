"""Run one recipe end to end: rows from its source, the column-chain check, the stages, the export, the push."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import datasets
from datasets import Dataset, concatenate_datasets

from magpie_hf.core.chain import ChainError, check_chain
from magpie_hf.core.pipeline import get_pipeline
from magpie_hf.core.recipe import Recipe, RecipeError, RecipeSet
from magpie_hf.models.presets import Preset, complete, model_for
from magpie_hf.publish.export import argv, export_tables, manifest, run_tables
from magpie_hf.run.context import RunContext
from magpie_hf.run.executors.base import Executor
from magpie_hf.run.models import check_models, model_uses
from magpie_hf.run.runner import MissingInput, RunResult, run_stages, source_rows, with_preparation
from magpie_hf.run.sources import load_source

log = logging.getLogger(__name__)


@dataclass
class RecipeRun:
    """What running one recipe gave: the stage results, the exported tables, the manifest and the files."""

    recipe: Recipe
    result: RunResult
    run_dir: str
    output: Path
    tables: dict[str, Dataset] = field(default_factory=dict)
    info: dict = field(default_factory=dict)
    written: list[tuple[Path, int | None]] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.result.complete


def input_rows(recipe: Recipe, count: int | None) -> tuple[Dataset, str]:
    """The rows the first stage receives, and their fingerprint."""
    rows = recipe.rows(count)
    if recipe.source is None:
        return source_rows(recipe.domain, rows)
    try:
        return load_source(recipe.source, recipe.domain, rows)
    except ValueError as err:
        raise RecipeError(f"{recipe.name}: {err}") from None


def check_recipe(recipe: Recipe, only: list[str] | None = None, models: bool = True) -> None:
    """Everything that can be checked before a row is read or an engine loads: stage names, the column
    chain, the API key, and (with `models`) every model the recipe loads: reachable, chat facts derived,
    fit for its stage."""
    entries = recipe.stage_entries()
    unknown = [s for s in only or [] if s not in [e.name for e in entries]]
    if unknown:
        raise RecipeError(
            f"--stages: '{unknown[0]}' is not a stage of {recipe.name}; allowed: {', '.join(e.name for e in entries)}"
        )
    key = recipe.engine.api_key_env
    if key and not os.environ.get(key):
        raise RecipeError(f"engine.api_key_env: {key} is not set; export {key}=<your key for {recipe.engine.base_url}>")
    columns = recipe.source.row_columns() if recipe.source else ["id", "domain"]
    try:
        check_chain(columns, entries, "source.columns" if recipe.source else None)
    except ChainError as err:
        raise RecipeError(f"{recipe.name}: {err}") from None
    if not models:
        return
    only = with_preparation(entries, only)
    check_models(recipe, only)
    for entry in entries:
        if only and entry.name not in only:
            continue
        if entry.stage.check_model is not None and entry.stage.needs_model(entry.config):
            try:
                entry.stage.check_model(entry.config, complete(model_for(entry.config, recipe.preset())))
            except (ValueError, OSError) as err:
                raise RecipeError(f"{recipe.name}: stages.{entry.name}: {str(err).splitlines()[0]}") from None


def models_used(recipe: Recipe, stages: list[str]) -> list[dict]:
    """What each model the recipe's `stages` ran was, with its chat facts (stored or derived), once per model."""
    used: dict[str, Preset] = {}
    for use in model_uses(recipe):
        if use.preset is not None and use.stage in stages:
            used.setdefault(use.preset.model_id, complete(use.preset))
    return [model.describe() for model in used.values()]


def run_recipe(
    recipe: Recipe,
    executor: Executor | None = None,
    count: int | None = None,
    only: list[str] | None = None,
    push: bool = True,
    context: RunContext | None = None,
) -> RecipeRun:
    """Run a recipe's stages and, when every shard is done, export (and push) its tables.

    Args:
        recipe: a validated recipe.
        executor: where shards run (default: this process, every shard).
        count: exact number of rows (overrides the recipe's count and scale).
        only: run only these stages (the earlier ones must have finished).
        push: push the export when the recipe names `push_to_hub`.
        context: the run context whose models the stages use, kept loaded for its owner
            (several recipes of one command); default: one of its own, released before this returns.

    Returns:
        The run; `complete` is False while other workers still hold shards. Its manifest
        lists the models loaded and released, in order (`model_loads`).
    """
    if context is None:
        with RunContext(share_device=recipe.engine.share_device) as own:
            return run_recipe(recipe, executor, count, only, push, own)
    check_recipe(recipe, only)
    datasets.disable_progress_bars()  # the runner draws one bar per stage; source reads and merges stay quiet
    pipeline = get_pipeline(recipe.pipeline)
    model = recipe.preset()
    paths = recipe.paths()
    data, fp = input_rows(recipe, count)
    first_event = len(context.events)
    try:
        result = run_stages(
            data, fp, recipe.stage_entries(), model, paths["run_dir"], recipe.shard_size, executor, only, context
        )
    except MissingInput as err:
        raise RecipeError(f"--stages: {err}") from None
    run = RecipeRun(recipe, result, paths["run_dir"], paths["output"])
    if not result.complete:
        return run
    run.tables = run_tables(result, pipeline, recipe.outputs)
    run.info = manifest(recipe, model, result, len(data), argv())
    run.info["models"] = models_used(recipe, [r.stage for r in result.reports])
    run.info["model_loads"] = context.events[first_event:]
    if executor is not None:
        run.info["execution"] = executor.describe()
    analysis = pipeline.analysis(result, recipe) if pipeline.analysis else None
    if analysis is not None:
        run.info["analysis"] = analysis
    run.written = export_tables(run.tables, run.info, run.output, pipeline, recipe.test_fraction, recipe.seed)
    rank = executor.describe().get("rank") if executor is not None else None
    if push and recipe.push_to_hub and not rank:
        from magpie_hf.publish.push import push as push_export  # noqa: PLC0415 - huggingface_hub HTTP stack

        log.info("pushed to %s", push_export(run.output, recipe.push_to_hub, recipe.private))
    return run


def export_merged(recipe_set: RecipeSet, runs: list[RecipeRun]) -> list[tuple[Path, int | None]]:
    """One export over every member of a recipe set (e.g. all domains), each table with its `domain` column."""
    first = runs[0].recipe
    output = recipe_set.merged_output(first.preset().name)
    names = [name for name in runs[0].tables if all(name in run.tables for run in runs)]
    merged = {name: concatenate_datasets([run.tables[name] for run in runs]) for name in names}
    pipeline = get_pipeline(first.pipeline)
    members = [(run.result, run.recipe) for run in runs]
    dropped, pairs = pipeline.cross_member_duplicates(members) if pipeline.cross_member_duplicates else (set(), {})
    if dropped:
        for name, rows in merged.items():
            if pipeline.table(name).rows != "all":  # the every-row tables keep them, as generated
                key = "problem_id" if "problem_id" in rows.column_names else "id"
                merged[name] = rows.filter(lambda i: i not in dropped, input_columns=key)
    info = {
        **recipe_set.manifest_facts(),
        "command": " ".join(argv()),
        "domains": [run.recipe.domain for run in runs],
        "members": [run.info for run in runs],
        "generation_date": runs[-1].info.get("generation_date"),
        "recipe_yaml": "\n---\n".join(run.info["recipe_yaml"] for run in runs),
        "cross_domain_duplicates": pairs,
    }
    return export_tables(merged, info, output, pipeline, first.test_fraction, first.seed)
