"""Problems of one domain that repeat a problem kept in an earlier domain, by the domains' `dedup` stage."""

from __future__ import annotations

from magpie_hf.core.recipe import Recipe
from magpie_hf.core.result import RunResult


def cross_domain_duplicates(members: list[tuple[RunResult, Recipe]]) -> tuple[set[str], dict[str, int]]:
    """The ids to leave out of the all-domains export, and their counts per `<domain>-><domain of the kept one>`.

    Members are walked in order, as the dedup stage walks rows: each member's
    kept rows, with their stored embeddings, against everything kept before.
    Nothing when a member has no dedup rows (no such stage, or `--stages` stopped before it).
    """
    import numpy as np  # noqa: PLC0415 - numpy and faiss for a merged export, not when the pipeline registers

    from magpie_hf.models.vector_index import near_duplicates  # noqa: PLC0415

    rows, threshold = [], None
    for result, recipe in members:
        entry = next((e for e in recipe.stage_entries() if e.stage.name == "dedup"), None)
        if entry is None or entry.name not in result.datasets:
            return set(), {}
        threshold = entry.config.near_duplicate_distance
        kept = result.datasets[entry.name]
        rows += zip(kept["id"], kept["domain"], kept["embedding"])
    if not rows:
        return set(), {}
    found = near_duplicates(np.asarray([r[2] for r in rows], dtype=np.float32), threshold)
    dropped, pairs = set(), {}
    for (problem, domain, _), owner in zip(rows, found.duplicate_of):
        if owner >= 0 and rows[owner][1] != domain:
            dropped.add(problem)
            pair = f"{domain}->{rows[owner][1]}"
            pairs[pair] = pairs.get(pair, 0) + 1
    return dropped, pairs
