"""Run a recipe's stages in order: plan each stage, let the executor run its shards, merge, report.

Each stage's input is cut into a `ShardPlan`. A shard is mapped into
`<run_dir>/<stage>-<fingerprint>/shard-NNNNN.arrow` and then marked done by a
JSON file beside it. A rerun skips done shards; a crash loses only the shards
in flight.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import datasets
from datasets import Dataset, concatenate_datasets
from tqdm.auto import tqdm

from magpie_hf.core.fingerprint import fingerprint
from magpie_hf.core.messages import t
from magpie_hf.core.recipe import StageEntry
from magpie_hf.core.stage import FILTER_REASON
from magpie_hf.models.presets import Preset
from magpie_hf.run import storage
from magpie_hf.run.executors.base import Executor
from magpie_hf.run.executors.local import LocalExecutor
from magpie_hf.run.plan import ShardPlan, ShardSpec, plan_stage
from magpie_hf.run.shard import empty_output

log = logging.getLogger(__name__)


@dataclass
class StageReport:
    """Rows, tokens and time of one stage, summed over its shards."""

    stage: str
    fingerprint: str
    rows_in: int = 0
    rows_out: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    generated_tokens: int = 0
    prompt_tokens: int = 0
    seconds: float = 0.0
    load_seconds: float = 0.0
    shards_run: int = 0
    shards_reused: int = 0
    shards_pending: int = 0

    @property
    def tokens_per_second(self) -> float:
        return self.generated_tokens / self.seconds if self.seconds else 0.0


@dataclass
class RunResult:
    """What a run produced: per stage the kept rows, every row (dropped ones with `filter_reason`), the reports."""

    datasets: dict[str, Dataset]
    all_rows: dict[str, Dataset]
    reports: list[StageReport]
    complete: bool
    seconds: float
    explodes: dict[str, bool] = field(default_factory=dict)


class MissingInput(RuntimeError):
    """`--stages` named a stage whose input stage has no finished checkpoint."""


def source_rows(prefix: str, count: int) -> tuple[Dataset, str]:
    """The empty rows a generating recipe starts from: a stable `id` and the domain."""
    data = Dataset.from_dict({"id": [f"{prefix}-{i:06d}" for i in range(count)], "domain": [prefix] * count})
    return data, fingerprint({"source": prefix, "rows": count})


def run_stage(
    data: Dataset, plan: ShardPlan, entry: StageEntry, model: Preset, executor: Executor
) -> tuple[Dataset | None, Dataset | None, StageReport]:
    """Run the plan's pending shards on the executor and merge.

    Returns the kept rows, every row (with `filter_reason` for stages that drop
    rows) and the report; None for both datasets while shards other workers own
    are not done yet.
    """
    report = StageReport(stage=entry.name, fingerprint=plan.fingerprint, rows_in=len(data))
    done_before = {s.index for s in plan.shards if storage.exists(s.done)}
    bar = tqdm(
        total=len(data),
        initial=sum(s.stop - s.start for s in plan.shards if s.index in done_before),
        desc=entry.name,
        unit=t("rows"),
        dynamic_ncols=True,
    )
    ran: set[int] = set()

    def shard_done(shard: ShardSpec, stats: dict) -> None:
        ran.add(shard.index)
        report.seconds += stats["seconds"]
        report.load_seconds += stats["load_seconds"]
        bar.update(shard.stop - shard.start)
        bar.set_postfix(tok_s=f"{stats['generated_tokens'] / max(stats['seconds'], 1e-9):.0f}")

    def progress() -> None:
        bar.n = sum(s.stop - s.start for s in plan.shards if storage.exists(s.done))
        bar.refresh()

    with bar:
        executor.run_shards(data, plan, entry, model, shard_done)
        executor.wait_for(plan, progress)
    for shard in plan.shards:
        if not storage.exists(shard.done):
            report.shards_pending += 1
            continue
        stats = storage.read_json(shard.done)
        report.generated_tokens += stats["generated_tokens"]
        report.prompt_tokens += stats["prompt_tokens"]
        for reason, n in stats["dropped"].items():
            report.dropped[reason] = report.dropped.get(reason, 0) + n
        for name, n in stats.get("counters", {}).items():
            report.counters[name] = report.counters.get(name, 0) + n
        report.shards_run += shard.index in ran
        report.shards_reused += shard.index in done_before
    if report.shards_pending:
        return None, None, report
    merged = (
        concatenate_datasets([storage.open_dataset(s.path) for s in plan.shards])
        if plan.shards
        else empty_output(data, entry, model)
    )
    kept = merged
    if entry.stage.drops_rows(entry.config):
        kept = merged.filter(lambda reason: reason is None, input_columns=FILTER_REASON).remove_columns(FILTER_REASON)
    report.rows_out = len(kept)
    return kept, merged, report


def run_stages(
    data: Dataset,
    input_fingerprint: str,
    entries: list[StageEntry],
    model: Preset,
    run_dir: str | Path,
    shard_size: int,
    executor: Executor | None = None,
    only: list[str] | None = None,
) -> RunResult:
    """Run stages in order; stops early (complete=False) while other workers still hold shards.

    With `only`, stages before the first named one must already be finished in
    `run_dir` (their checkpoints are reused), and stages after the last are not run.
    """
    datasets.disable_progress_bars()  # one bar per stage, from the runner
    executor = executor or LocalExecutor()
    start = time.perf_counter()
    result = RunResult({}, {}, [], complete=False, seconds=0.0)
    fp = input_fingerprint
    names = [e.name for e in entries]
    last = max(names.index(n) for n in only) if only else len(entries) - 1
    for entry in entries[: last + 1]:
        plan = plan_stage(entry, fp, len(data), model, run_dir, shard_size)
        if only and entry.name not in only and plan.pending():
            raise MissingInput(
                f"stage '{entry.name}' has not run with these settings (its output is the input of "
                f"'{only[0]}'): add it to --stages, or run without --stages"
            )
        log.info("stage %s: %d rows in %d shards", entry.name, len(data), len(plan.shards))
        kept, every, report = run_stage(data, plan, entry, model, executor)
        result.reports.append(report)
        if kept is None:
            break
        result.datasets[entry.name] = data = kept
        result.all_rows[entry.name] = every
        result.explodes[entry.name] = entry.stage.explodes
        fp = report.fingerprint
    else:
        result.complete = True
    result.seconds = time.perf_counter() - start
    return result


def every_row(result: RunResult, stage: str) -> Dataset:
    """Every row that reached `stage` since the last stage that made new rows: its own, and the
    rows earlier filters dropped (with their `filter_reason`; columns they never got are null)."""
    import pyarrow as pa

    names = list(result.all_rows)
    upto = names[: names.index(stage) + 1]
    since = max((i for i, n in enumerate(upto) if result.explodes.get(n)), default=0)
    parts = [result.all_rows[stage]]
    for name in upto[since:-1]:
        rows = result.all_rows[name]
        if FILTER_REASON in rows.column_names:
            parts.append(rows.filter(lambda reason: reason is not None, input_columns=FILTER_REASON))
    if len(parts) == 1:
        return parts[0]
    tables = [p.flatten_indices().data.table for p in parts if len(p)]  # filter() keeps an index over the full table
    merged = pa.concat_tables(tables, promote_options="default") if tables else parts[0].data.table
    order = {i: k for k, i in enumerate(result.all_rows[upto[since]]["id"])}
    rows = Dataset(merged)
    ids = rows["id"]
    return rows.select(sorted(range(len(rows)), key=lambda k: order.get(ids[k], k)))
