"""Pipelines: what a package of stages adds to a run's export.

The framework names no pipeline. A pipeline package registers its output
tables (each with the row formatter that turns a stage's rows into the
exported config), its card template and tags, and, optionally: a banner
printed before a run starts, an analysis printed at the end of a run and
stored in the manifest, the rows a recipe set's merged export leaves out as
repeats across its members, and `magpie-hf` commands (whose help texts it
adds with `core.messages.add_messages`).
Built-in pipelines live in `magpie_hf/pipelines/<name>/`; others register from
anywhere (a test, another package through the `magpie_hf.pipelines` entry
point group).

Example:
    >>> register_pipeline(Pipeline(name="toy", tables={"rows": Table("rows", lambda rows: rows)}, card="toy.md"))
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Callable, Literal

if TYPE_CHECKING:
    from datasets import Dataset


@dataclass(frozen=True)
class Table:
    """One exported config.

    Attributes:
        name: the config name (`load_dataset(repo, name)`).
        build: rows of the stage the recipe maps to this table -> exported rows.
        rows: which rows `build` gets: `kept` (those the stage kept), `stage` (also those the stage
            itself dropped, with their `filter_reason`), or `all` (also those every earlier filter dropped).
        per_domain: besides the merged config, one `<name>_<domain>` config per domain.
        task: the Hub task category of the config.
        tag: a Hub tag the config adds to the card (e.g. `dpo`).
        mark_split: `(rows, split) -> rows`, for rows that record the split they are written to.
    """

    name: str
    build: Callable[[Dataset], Dataset]
    rows: Literal["kept", "stage", "all"] = "kept"
    per_domain: bool = True
    task: str = "text-generation"
    tag: str | None = None
    mark_split: Callable[[Dataset, str], Dataset] | None = None


@dataclass(frozen=True)
class Command:
    """A `magpie-hf` subcommand a pipeline adds, that turns its own arguments into a `run`.

    Attributes:
        name: the subcommand.
        help: its help text's message key (the pipeline adds its keys with `core.messages.add_messages`).
        configure: adds the command's own arguments to its parser.
        to_run: sets `recipe` (and e.g. `domains`) on the parsed options; raises RecipeError on bad input.
    """

    name: str
    help: str
    configure: Callable[[Any], None]
    to_run: Callable[[Any], None]


@dataclass(frozen=True)
class Pipeline:
    """What a pipeline adds to the framework.

    Attributes:
        name: recipes select it with `pipeline: <name>`.
        tables: the configs its recipes may export (recipe `outputs:` maps them to stages).
        card: its card template: a file name in the packaged `cards/`, or a path.
        tags: Hub tags of every export.
        counted: categorical columns whose value counts the card shows.
        plots: `tables -> {file name: (title, values)}` histograms for the card.
        analysis: `(result, recipe) -> dict | None`, printed at the end and kept in the manifest.
        format_analysis: the analysis as terminal lines.
        describe: `(recipe, model) -> dict` of facts the manifest and card carry (e.g. a prompt prefix).
        banner: `(recipes, count) -> str`, printed before a run of its recipes starts (e.g. the model and
            the rows per domain; `count` is the command line's `--count`, None without it).
        commands: `magpie-hf` subcommands of its own.
        cross_member_duplicates: `[(result, recipe)] -> (ids, {"<domain>-><domain>": count})`, the rows of a
            recipe set's member that repeat an earlier member's: left out of the merged export, counted in its manifest.
    """

    name: str
    tables: dict[str, Table]
    card: str
    tags: tuple[str, ...] = ()
    counted: tuple[str, ...] = ("filter_reason",)
    plots: Callable[[dict[str, Dataset]], dict[str, tuple[str, list[float]]]] | None = None
    analysis: Callable[[Any, Any], dict | None] | None = None
    format_analysis: Callable[[dict], str] | None = None
    describe: Callable[[Any, Any], dict] | None = None
    banner: Callable[[list[Any], int | None], str] | None = None
    commands: tuple[Command, ...] = ()
    cross_member_duplicates: Callable[[list[tuple[Any, Any]]], tuple[set[str], dict[str, int]]] | None = None

    def table(self, name: str) -> Table:
        """The table of that name, or a plain one (rows as they are) for a stage exported by its own name."""
        return self.tables.get(name) or Table(name, _as_is)


def _as_is(rows: Dataset) -> Dataset:
    return rows


# Recipes that name no pipeline: their last stage is exported as it is, with a plain card.
GENERIC = Pipeline(name="generic", tables={}, card="generic.md", tags=("synthetic",))
PIPELINES: dict[str, Pipeline] = {GENERIC.name: GENERIC}


def register_pipeline(pipeline: Pipeline) -> Pipeline:
    PIPELINES[pipeline.name] = pipeline
    return pipeline


_DISCOVERED: list[bool] = []


def discover() -> None:
    """Import the built-in stage library and pipeline packages, and entry-point plugins, once."""
    if _DISCOVERED:
        return
    _DISCOVERED.append(True)
    for package in ("magpie_hf.stages", "magpie_hf.pipelines"):
        root = importlib.import_module(package)
        for module in pkgutil.iter_modules(root.__path__, f"{package}."):
            importlib.import_module(module.name)
    for plugin in entry_points(group="magpie_hf.pipelines"):
        plugin.load()


def get_pipeline(name: str) -> Pipeline:
    """A registered pipeline; KeyError listing the known ones."""
    discover()
    if name not in PIPELINES:
        raise KeyError(f"unknown pipeline '{name}'; allowed: {', '.join(sorted(PIPELINES))}")
    return PIPELINES[name]
