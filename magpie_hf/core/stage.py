"""Stage declaration and registry.

A stage is a plain batched function `fn(batch, config, model) -> columns` plus
what the runner must know before running it: its validated config class, the
columns it reads and writes, and its kind. The runner owns sharding,
fingerprints, checkpoints and progress; a stage never does I/O.

Kinds:
    map: one output row per input row; the returned columns are added (or replace).
    filter: like map, and rows whose `filter_reason` is not None leave (counted by reason).
    global: must see every row at once (e.g. dedup); may drop rows like a filter.
    explode: returns new rows (any number per input row); input columns are not kept.

Any stage that declares `filter_reason` among its outputs drops rows by it; so
does every stage that calls a model, for the rows whose prompt got no answer
(`prompt_too_long`, `generation_failed`). An explode stage that calls a model
declares `parent`: the output column holding each new row's input row id, so a
failed parent's rows are found.

Example:
    >>> class Upper(StageConfig):
    ...     column: str = "problem"
    >>> @stage("upper", config=Upper, inputs=lambda c: [c.column], outputs=lambda c: [c.column], uses_model=False)
    ... def upper(batch, cfg, model):
    ...     return {cfg.column: [t.upper() for t in batch[cfg.column]]}
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Any, Callable, Iterable

from pydantic import BaseModel, ConfigDict

Columns = tuple[str, ...] | Callable[[Any], Iterable[str]]
StageFn = Callable[[dict[str, list], Any, Any], dict[str, list]]
FILTER_REASON = "filter_reason"


class StageConfig(BaseModel):
    """Base of every stage config: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Kind(str, Enum):
    """How a stage's output rows relate to its input rows."""

    MAP = "map"
    FILTER = "filter"
    GLOBAL = "global"
    EXPLODE = "explode"


@dataclass(frozen=True)
class Stage:
    """A registered stage.

    Attributes:
        name: key used in recipes and in checkpoint folder names.
        fn: the batched function.
        config: its pydantic config class.
        version: bump when the code changes its output; part of the fingerprint.
        inputs: columns it reads (a tuple, or a function of the config).
        outputs: columns it writes (likewise); `filter_reason` among them makes it drop rows.
        kind: map, filter, global or explode (see the module docstring).
        uses_model: whether it calls an LLM (a bool, or a function of the config); the
            fingerprint then includes the model, and executors run it where an engine lives.
        counters: integer columns the runner sums into the stage report (e.g. truncations).
        check_model: `(config, model) -> None`, raising ValueError when the stage cannot run that
            model (e.g. Magpie generation on a model without a chat template); called before the run.
        arrays: vector columns it reads as one numpy array (rows x dims) instead of Python lists,
            so a global stage over a million embeddings holds them once, in float32.
        parent: for an explode stage, the output column with each new row's parent id (a name,
            or a function of the config); required when it calls a model.
        loads: `(config) -> [(kind, model id)]`, the heavy models other than the LLM it loads
            (a reward model, the embedder), for `plan` and the check before a run.
        prepares: a preparatory step (e.g. cleaning raw input): `--stages` runs it whenever it selects
            a later stage, so a selection works on a fresh run dir.
        requests: `(config) -> int`, the most model requests one input row can take (default 1), for
            `plan`'s requests and prompt tokens (e.g. a chain of questions, code-execution rounds).
    """

    name: str
    fn: StageFn
    config: type[StageConfig]
    version: str
    inputs: Columns = ()
    outputs: Columns = ()
    kind: Kind = Kind.MAP
    uses_model: bool | Callable[[Any], bool] = True
    counters: tuple[str, ...] = ()
    check_model: Callable[[Any, Any], None] | None = None
    arrays: tuple[str, ...] = ()
    parent: str | Callable[[Any], str] | None = None
    loads: Callable[[Any], list[tuple[str, str]]] | None = None
    prepares: bool = False
    requests: Callable[[Any], int] | None = None

    def __post_init__(self) -> None:
        if self.explodes and self.parent is None and self.uses_model is not False:
            raise ValueError(f"stage '{self.name}' explodes and calls a model: declare parent= (its parent id column)")

    def parent_column(self, config: StageConfig) -> str:
        return self.parent(config) if callable(self.parent) else self.parent

    def requests_per_row(self, config: StageConfig) -> int:
        """The most model requests one input row can take with this config."""
        return self.requests(config) if self.requests is not None else 1

    def heavy_models(self, config: StageConfig) -> list[tuple[str, str]]:
        """The heavy models besides the LLM that it loads with this config."""
        return list(self.loads(config)) if self.loads is not None else []

    def needs_model(self, config: StageConfig) -> bool:
        return bool(self.uses_model(config)) if callable(self.uses_model) else self.uses_model

    def input_columns(self, config: StageConfig) -> tuple[str, ...]:
        return _resolve(self.inputs, config)

    def output_columns(self, config: StageConfig) -> tuple[str, ...]:
        return _resolve(self.outputs, config)

    def drops_rows(self, config: StageConfig) -> bool:
        """Whether rows can leave: it writes `filter_reason`, or it calls a model (a prompt may fail)."""
        return FILTER_REASON in self.output_columns(config) or self.needs_model(config)

    @property
    def sharded(self) -> bool:
        return self.kind is not Kind.GLOBAL

    @property
    def explodes(self) -> bool:
        return self.kind is Kind.EXPLODE


def _resolve(columns: Columns, config: StageConfig) -> tuple[str, ...]:
    return tuple(columns(config)) if callable(columns) else tuple(columns)


STAGES: dict[str, Stage] = {}


def register(stage_: Stage) -> Stage:
    """Add a stage to the registry (a name registered twice is an error)."""
    known = STAGES.get(stage_.name)
    if known is not None and known.fn is not stage_.fn:
        raise ValueError(f"stage '{stage_.name}' is registered twice ({known.fn.__module__}, {stage_.fn.__module__})")
    STAGES[stage_.name] = stage_
    return stage_


def stage(
    name: str,
    *,
    config: type[StageConfig],
    inputs: Columns = (),
    outputs: Columns = (),
    kind: Kind | str = Kind.MAP,
    version: str = "1",
    uses_model: bool | Callable[[Any], bool] = True,
    counters: tuple[str, ...] = (),
    check_model: Callable[[Any, Any], None] | None = None,
    arrays: tuple[str, ...] = (),
    parent: str | Callable[[Any], str] | None = None,
    loads: Callable[[Any], list[tuple[str, str]]] | None = None,
    prepares: bool = False,
    requests: Callable[[Any], int] | None = None,
) -> Callable[[StageFn], StageFn]:
    """Decorator: register `fn` as a stage; the function itself is returned (with `.stage` set)."""

    def wrap(fn: StageFn) -> StageFn:
        fn.stage = register(  # type: ignore[attr-defined]
            Stage(
                name, fn, config, version, inputs, outputs, Kind(kind), uses_model,
                counters, check_model, arrays, parent, loads, prepares, requests,
            )
        )
        return fn

    return wrap


PLACEHOLDER = re.compile(r"\{(\w+)\}")


def placeholders(template: str) -> list[str]:
    """The `{column}` names a prompt template reads, in order, without repeats."""
    return list(dict.fromkeys(PLACEHOLDER.findall(template)))


def batch_rows(batch: dict[str, list]) -> list[dict]:
    """A `Dataset.map` batch (columns of values) as one dict per row."""
    return [dict(zip(batch, values)) for values in zip(*batch.values())]


def fill(template: str, row: dict) -> str:
    """`template` with `{column}` placeholders replaced by the row's values (other braces untouched)."""
    return PLACEHOLDER.sub(lambda m: str(row[m.group(1)]) if m.group(1) in row else m.group(0), template)
