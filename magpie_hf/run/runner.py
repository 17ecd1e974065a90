"""Run a recipe's stages in order: plan each stage, let the executor run its shards, merge, report.

Each stage's input is cut into a `ShardPlan`. A shard is mapped into
`<run_dir>/<stage>-<fingerprint>/shard-NNNNN.arrow` and then marked done by a
JSON file beside it. A rerun skips done shards; a crash loses only the shards
in flight.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import datasets
from datasets import Dataset, concatenate_datasets
from tqdm.auto import tqdm

from magpie_hf.core.messages import t
from magpie_hf.core.recipe import StageEntry
from magpie_hf.core.result import RunResult, StageReport
from magpie_hf.core.stage import FILTER_REASON
from magpie_hf.models.presets import Preset
from magpie_hf.run import storage
from magpie_hf.run.context import RunContext
from magpie_hf.run.executors.base import Executor
from magpie_hf.run.executors.local import LocalExecutor
from magpie_hf.run.plan import ShardPlan, ShardSpec, plan_stage, source_fingerprint
from magpie_hf.run.shard import empty_output

log = logging.getLogger(__name__)


class MissingInput(RuntimeError):
    """`--stages` named a stage whose input stage has no finished checkpoint."""


def source_rows(prefix: str, count: int) -> tuple[Dataset, str]:
    """The empty rows a generating recipe starts from: a stable `id` and the domain."""
    data = Dataset.from_dict({"id": [f"{prefix}-{i:06d}" for i in range(count)], "domain": [prefix] * count})
    return data, source_fingerprint(prefix, count)


def with_preparation(entries: list[StageEntry], only: list[str] | None) -> list[str] | None:
    """The `--stages` names, then the preparatory stages (`prepares`) before the last of them that they leave out."""
    if not only:
        return only
    names = [e.name for e in entries]
    last = max(names.index(n) for n in only)
    return [*only, *(e.name for e in entries[:last] if e.stage.prepares and e.name not in only)]


def run_stage(
    data: Dataset, plan: ShardPlan, entry: StageEntry, model: Preset, executor: Executor, run: RunContext
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
    start, generated, requests = time.perf_counter(), 0, 0

    def shard_done(shard: ShardSpec, stats: dict) -> None:
        nonlocal generated, requests
        ran.add(shard.index)
        report.load_seconds += stats["load_seconds"]
        report.seconds = time.perf_counter() - start - report.load_seconds  # wall time: shards may overlap
        generated += stats["generated_tokens"]
        requests += stats["requests"]
        bar.update(shard.stop - shard.start)
        postfix = {"tok_s": f"{generated / max(report.seconds, 1e-9):.0f}"}
        in_flight = run.requests_in_flight()
        if requests and in_flight is not None:  # an endpoint's: its request rate and what it is working on
            postfix.update(req_s=f"{requests / max(report.seconds, 1e-9):.1f}", in_flight=in_flight)
        bar.set_postfix(postfix)

    def progress() -> None:
        bar.n = sum(s.stop - s.start for s in plan.shards if storage.exists(s.done))
        bar.refresh()

    with bar:
        executor.run_shards(data, plan, entry, model, shard_done, run)
        executor.wait_for(plan, progress)
    for shard in plan.shards:
        if not storage.exists(shard.done):
            report.shards_pending += 1
            continue
        report.add_shard(storage.read_json(shard.done))
        report.shards_run += shard.index in ran
        report.shards_reused += shard.index in done_before
    if report.shards_pending:
        return None, None, report
    merged = (
        concatenate_datasets([storage.open_dataset(s.path) for s in plan.shards])
        if plan.shards
        else empty_output(data, entry, model, run)
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
    run: RunContext | None = None,
) -> RunResult:
    """Run stages in order; stops early (complete=False) while other workers still hold shards.

    With `only`, stages before the first named one must already be finished in
    `run_dir` (their checkpoints are reused), except preparatory ones, which run
    when they have not; stages after the last are not run.
    The stages' models load through `run` and stay loaded for its owner; without
    one, a context of its own is made and released before this returns.
    """
    if run is None:
        with RunContext() as own:
            return run_stages(data, input_fingerprint, entries, model, run_dir, shard_size, executor, only, own)
    datasets.disable_progress_bars()  # one bar per stage, from the runner
    executor = executor or LocalExecutor()
    start = time.perf_counter()
    result = RunResult({}, {}, [], complete=False, seconds=0.0)
    fp = input_fingerprint
    only = with_preparation(entries, only)
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
        run.stage = entry.name
        kept, every, report = run_stage(data, plan, entry, model, executor, run)
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
