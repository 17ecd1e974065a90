"""Per-row seeds: every request of a run gets its own reproducible seed."""

from __future__ import annotations

import zlib
from dataclasses import replace

from magpie_hf.engines.base import Sampling


def row_seed(base: int, row_id: str) -> int:
    """A distinct, reproducible seed per row.

    One shared seed on every request makes vLLM return the same Magpie sample
    for every row, so each row gets base + a stable hash of its id.
    """
    return (base + zlib.crc32(row_id.encode())) % 2**31


def per_row_sampling(base: Sampling, seed: int, ids: list[str], salt: str = "") -> list[Sampling]:
    """`base` once per row, each with its own reproducible seed (`salt` separates stages that share ids)."""
    return [replace(base, seed=row_seed(seed, f"{salt}:{i}" if salt else i)) for i in ids]
