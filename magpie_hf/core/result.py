"""What a run produced: per stage its kept rows, every row, and a report of rows, tokens and time."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from magpie_hf.core.stage import FILTER_REASON

if TYPE_CHECKING:
    from datasets import Dataset


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
    requests: int = 0  # requests the engine answered (an API engine's top-ups for missing choices included)
    retries: int = 0  # requests an API engine sent again (after a 429, a 5xx or a dropped connection)
    rate_limited: int = 0  # 429 answers
    seconds: float = 0.0
    load_seconds: float = 0.0
    shards_run: int = 0
    shards_reused: int = 0
    shards_pending: int = 0

    @property
    def tokens_per_second(self) -> float:
        return self.generated_tokens / self.seconds if self.seconds else 0.0

    def add_shard(self, stats: dict) -> None:
        """Count a finished shard's tokens, drops and counters, as its done marker records them."""
        self.generated_tokens += stats["generated_tokens"]
        self.prompt_tokens += stats["prompt_tokens"]
        for name in ("requests", "retries", "rate_limited"):  # absent from done markers of older versions
            setattr(self, name, getattr(self, name) + stats.get(name, 0))
        for reason, n in stats["dropped"].items():
            self.dropped[reason] = self.dropped.get(reason, 0) + n
        for name, n in stats.get("counters", {}).items():
            self.counters[name] = self.counters.get(name, 0) + n


@dataclass
class RunResult:
    """What a run produced: per stage the kept rows, every row (dropped ones with `filter_reason`), the reports."""

    datasets: dict[str, Dataset]
    all_rows: dict[str, Dataset]
    reports: list[StageReport]
    complete: bool
    seconds: float
    explodes: dict[str, bool] = field(default_factory=dict)

    def tokens(self) -> tuple[int, int]:
        """Prompt and generated tokens of every stage, summed."""
        return sum(r.prompt_tokens for r in self.reports), sum(r.generated_tokens for r in self.reports)


def every_row(result: RunResult, stage: str) -> Dataset:
    """Every row that reached `stage` since the last stage that made new rows: its own, and the
    rows earlier filters dropped (with their `filter_reason`; columns they never got are null)."""
    import pyarrow as pa  # noqa: PLC0415 - a finished run's rerun reads no table
    from datasets import Dataset  # noqa: PLC0415

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
