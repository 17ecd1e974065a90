"""Check a recipe's column chain before anything runs: the source's columns, then every stage in order.

Each stage declares the columns it reads and writes; a column that neither the
source nor an earlier stage provides is reported on one line that names the
stage, the column, and what would provide it, before any engine loads.
"""

from __future__ import annotations

from typing import Iterable

from magpie_hf.core.stage import FILTER_REASON, STAGES


class ChainError(ValueError):
    """A stage reads a column nothing before it writes."""


def providers(column: str) -> list[str]:
    """Registered stages that write `column` whatever their config (declared as a fixed tuple)."""
    return sorted(name for name, s in STAGES.items() if not callable(s.outputs) and column in s.outputs)


def check_chain(source_columns: Iterable[str], entries: list, source_key: str | None = None) -> None:
    """Raise ChainError at the first stage that reads a column no earlier step provides.

    Args:
        source_columns: the columns of the rows the first stage receives.
        entries: the recipe's stage entries, in order.
        source_key: the recipe key that maps source columns (e.g. `source.columns`), for the hint.
    """
    available = set(source_columns)
    for index, entry in enumerate(entries):
        missing = [c for c in entry.stage.input_columns(entry.config) if c not in available]
        if missing:
            column = missing[0]
            hints = [f"stage '{p}'" for p in providers(column)]
            if source_key:
                hints.append(f"{source_key}: {{{column}: <your column>}}")
            where = f"stages[{index}] ({entry.name})"
            provide = f"; provide it with {' or '.join(hints)}" if hints else ""
            raise ChainError(
                f"{where}: needs column '{column}', which neither the source nor an earlier stage writes"
                f" (available: {', '.join(sorted(available))}){provide}"
            )
        written = set(entry.stage.output_columns(entry.config)) - {FILTER_REASON}
        available = written if entry.stage.explodes else available | written
