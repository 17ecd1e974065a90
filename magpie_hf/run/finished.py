"""A finished run read back without opening a dataset or loading a model: what `run` prints when nothing is left.

A generating recipe's run is finished when every shard of the stages it runs
has its done marker (the stage fingerprints followed through the run dir, as
`plan` does) and its export's manifest records the same recipe and the same
stage fingerprints. Then nothing runs and nothing is re-exported: the stage
reports come from the done markers, the rest from the manifest. A recipe that
reads a source is never taken as finished here (its rows' fingerprint needs
the source read).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from magpie_hf.core.recipe import Recipe, RecipeSet
from magpie_hf.core.result import RunResult, StageReport
from magpie_hf.publish.export import exported, recipe_yaml, written_files
from magpie_hf.run import storage
from magpie_hf.run.plan import kept_rows, plan_stage, source_fingerprint


@dataclass
class FinishedRun:
    """A run with nothing left to do: its stage reports, its export's manifest (`info`) and files."""

    recipe: Recipe
    result: RunResult
    run_dir: str
    info: dict
    written: list[tuple[Path, int | None]]


def finished_runs(
    recipes: list[Recipe], recipe_set: RecipeSet | None, count: int | None, only: list[str] | None
) -> tuple[list[FinishedRun], list[tuple[Path, int | None]]] | None:
    """Every recipe's finished run, then the merged export's files (a set of several recipes; else none).

    None as soon as one stage has a shard to run or one export (the merged one too) is missing or out of date.
    """
    runs = []
    for recipe in recipes:
        run = finished_run(recipe, count, only)
        if run is None:
            return None
        runs.append(run)
    if recipe_set is None or len(runs) < 2:
        return runs, []
    output = recipe_set.merged_output(recipes[0].preset().name)
    info = exported(output)
    facts = recipe_set.manifest_facts()
    if info is None or {k: info.get(k) for k in facts} != facts or len(info.get("members", [])) != len(runs):
        return None
    if not all(same_run(member, run.recipe, run.result.reports) for member, run in zip(info["members"], runs)):
        return None
    return runs, written_files(output, info["exports"])


def finished_run(recipe: Recipe, count: int | None, only: list[str] | None) -> FinishedRun | None:
    """The recipe's run when every stage it runs is done and its export is up to date, else None."""
    start = time.perf_counter()
    reports = stage_reports(recipe, count, only)
    if reports is None:
        return None
    paths = recipe.paths()
    info = exported(paths["output"])
    if info is None or not same_run(info, recipe, reports):
        return None
    result = RunResult({}, {}, reports, complete=True, seconds=time.perf_counter() - start)
    return FinishedRun(recipe, result, paths["run_dir"], info, written_files(paths["output"], info["exports"]))


def same_run(info: dict, recipe: Recipe, reports: list[StageReport]) -> bool:
    """Whether a manifest (an export's, or a merged export's member) records this recipe and these stages."""
    stages = [stage["fingerprint"] for stage in info.get("stages", [])]
    return (
        info.get("complete") is True
        and info.get("recipe_yaml") == recipe_yaml(recipe)
        and stages == [r.fingerprint for r in reports]
    )


def stage_reports(recipe: Recipe, count: int | None, only: list[str] | None) -> list[StageReport] | None:
    """The reports a rerun's stages would give (every shard reused), from the done markers; None while a
    shard is not done, for a recipe that reads a source, or for `--stages` naming no stage of the recipe."""
    entries = recipe.stage_entries()
    names = [entry.name for entry in entries]
    if recipe.source is not None or not set(only or ()) <= set(names):
        return None
    last = max(map(names.index, only)) if only else len(entries) - 1
    model, run_dir = recipe.preset(), recipe.paths()["run_dir"]
    rows = recipe.rows(count)
    fp = source_fingerprint(recipe.domain, rows)
    reports = []
    for entry in entries[: last + 1]:
        plan = plan_stage(entry, fp, rows, model, run_dir, recipe.shard_size)
        if plan.pending():
            return None
        report = StageReport(stage=entry.name, fingerprint=plan.fingerprint, rows_in=rows)
        report.shards_reused = len(plan.shards)
        for shard in plan.shards:
            stats = storage.read_json(shard.done)
            report.add_shard(stats)
            report.rows_out += kept_rows(stats, entry)
        reports.append(report)
        rows, fp = report.rows_out, plan.fingerprint
    return reports
