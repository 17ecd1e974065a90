"""The table printed at the end of a run: rows, tokens and time per stage (and cost, when the recipe gives a price)."""

from __future__ import annotations

from pathlib import Path

from magpie_hf.core.messages import money, t
from magpie_hf.core.result import RunResult, StageReport
from magpie_hf.engines import REMOTE_BACKENDS
from magpie_hf.engines.settings import Price

VERDICTS = "verdicts_"  # the counters of a stage's yes/no verdicts, one per source
COLUMNS = (
    "col_stage",
    "col_rows_in",
    "col_rows_out",
    "col_dropped",
    "col_tokens",
    "col_seconds",
    "col_rate",
    "col_shards",
)


def table(header: list[str], rows: list[tuple[str, ...]]) -> list[str]:
    """Lines of a plain-text table: the header, a rule, then each row, columns padded to their widest cell."""
    widths = [max(len(c), *(len(row[i]) for row in rows)) for i, c in enumerate(header)]

    def line(cells) -> str:
        return "  ".join(cell.ljust(w) for cell, w in zip(cells, widths)).rstrip()

    return [line(header), line("-" * w for w in widths), *(line(row) for row in rows)]


def written_line(path: Path, rows: int | None) -> str:
    """ "wrote PATH (N rows)", or without the count for files that are not datasets."""
    return t("wrote", path=path) + ("" if rows is None else f" ({rows} {t('rows')})")


def derived_line(model: dict) -> str:
    """What was read from a model's own tokenizer: template kind, Magpie prefix, stop markers and ids."""
    prefix = "" if model["magpie_prefix"] is None else f", prefix {model['magpie_prefix']!r}"
    return t(
        "derived",
        name=model["name"],
        template=model["chat_template"],
        prefix=prefix,
        stop=", ".join(repr(s) for s in model["stop"]) or "-",
        ids=", ".join(map(str, model["stop_token_ids"])) or "-",
    )


def cost_line(result: RunResult, price: Price) -> str:
    """What the run's prompt and generated tokens cost, with the counts and the price."""
    prompt, generated = result.tokens()
    return t(
        "cost_total",
        cost=money(price.cost(prompt, generated)),
        prompt=prompt,
        generated=generated,
        input=price.input_per_million,
        output=price.output_per_million,
    )


def counter_lines(report: StageReport) -> list[str]:
    """The stage's counters in a line, and its yes/no verdicts by source (`verdicts_<source>`) in another; a line
    whose counts are all 0 is left out."""
    verdicts = {k.removeprefix(VERDICTS): n for k, n in report.counters.items() if k.startswith(VERDICTS)}
    others = {k: n for k, n in sorted(report.counters.items()) if not k.startswith(VERDICTS)}
    lines = [f"{report.stage}: " + ", ".join(f"{k} {v}" for k, v in others.items())] if any(others.values()) else []
    if any(verdicts.values()):
        sources = {s: verdicts.get(s, 0) for s in ("logprobs", "text", "undecided")}
        lines.append(t("verdicts_line", stage=report.stage, **sources))
    return lines


def format_summary(
    result: RunResult,
    written: list[tuple[Path, int | None]],
    run_dir: Path,
    models: list[dict] | None = None,
    price: Price | None = None,
) -> str:
    """A plain-text table, the chat facts derived for models without a preset, then where the output went.

    With a `price` (the recipe's `engine.price`), each stage's cost in a column and the run's in a line.
    """
    rows = [
        (
            r.stage,
            str(r.rows_in),
            str(r.rows_out) if not r.shards_pending else "-",
            ", ".join(f"{k}: {v}" for k, v in sorted(r.dropped.items())) or "0",
            str(r.generated_tokens),
            f"{r.seconds:.1f}",
            f"{r.tokens_per_second:.0f}",
            f"{r.shards_run}/{r.shards_reused}" + (f" ({r.shards_pending} pending)" if r.shards_pending else ""),
        )
        for r in result.reports
    ]
    header = [t(c) for c in COLUMNS]
    if price is not None:
        header.append(t("col_cost"))
        rows = [(*row, money(price.cost(r.prompt_tokens, r.generated_tokens))) for row, r in zip(rows, result.reports)]
    lines = table(header, rows)
    lines += [line for r in result.reports for line in counter_lines(r)]
    if any(m["engine"]["backend"] in REMOTE_BACKENDS for m in models or []):  # an endpoint's requests are billed
        lines += [t("requests_line", **vars(r)) for r in result.reports if r.requests]
    lines += [derived_line(m) for m in models or [] if m["chat_template"] != "preset"]
    if price is not None:
        lines.append(cost_line(result, price))
    load = sum(r.load_seconds for r in result.reports)
    lines.append(t("total", seconds=result.seconds, load=load, run_dir=run_dir))
    if result.complete:
        lines += [written_line(path, rows) for path, rows in written]
    else:
        pending = next(r for r in result.reports if r.shards_pending)
        lines.append(t("pending", stage=pending.stage, count=pending.shards_pending))
    return "\n".join(lines)
