"""Dedup: drop exact and near-duplicate rows, walking them in order (the first of a group is kept).

Exact duplicates compare the normalised text (case and spacing); near
duplicates, the stored embeddings, through a nearest-neighbour index whose
memory grows linearly with the rows (exact below 20,000, IVF above). A row
within `near_duplicate_distance` (cosine) of an earlier kept row is dropped.

Input columns: `column` (default `problem`), `embedding`, `id`.
Output columns: `min_neighbor_distance` (to the nearest other row), `repeat_count`
(rows in its group), `duplicate_of` (id of the kept row, None when kept),
`filter_reason` (`exact_duplicate`, `near_duplicate`).

Example:
    - stage: dedup
      near_duplicate_distance: 0.05
"""

from __future__ import annotations

from pydantic import Field

from magpie_hf.core.stage import Kind, StageConfig, stage


class DedupConfig(StageConfig):
    """The text column, the cosine-distance threshold and how many neighbours each row looks at."""

    column: str = "problem"
    near_duplicate_distance: float = Field(default=0.05, ge=0, le=2)
    neighbors: int = Field(default=16, ge=1)


@stage(
    "dedup",
    config=DedupConfig,
    kind=Kind.GLOBAL,
    inputs=lambda c: ["id", c.column, "embedding"],
    outputs=("min_neighbor_distance", "repeat_count", "duplicate_of", "filter_reason"),
    uses_model=False,
    arrays=("embedding",),
)
def dedup(batch: dict[str, list], cfg: DedupConfig, model) -> dict[str, list]:
    """Exact duplicates by text first, then near duplicates among the rest by embedding."""
    import numpy as np  # noqa: PLC0415 - numpy and faiss when the stage runs, not when it is registered

    from magpie_hf.models.vector_index import near_duplicates  # noqa: PLC0415

    n = len(batch["id"])
    owner, first = [-1] * n, {}
    for i, text in enumerate(batch[cfg.column]):
        owner[i] = first.setdefault(" ".join(str(text).lower().split()), i)
    owner = [-1 if o == i else o for i, o in enumerate(owner)]
    reasons = [None if o < 0 else "exact_duplicate" for o in owner]
    distance = [float("nan") if o < 0 else 0.0 for o in owner]
    unique = [i for i in range(n) if owner[i] < 0]
    if unique:  # none when every row before this stage was dropped
        vectors = np.asarray(batch["embedding"], dtype=np.float32).reshape(n, -1)[unique]
        found = near_duplicates(vectors, cfg.near_duplicate_distance, cfg.neighbors)
        for j, i in enumerate(unique):
            distance[i] = float(found.min_neighbor_distance[j])
            if found.duplicate_of[j] >= 0:
                owner[i], reasons[i] = unique[found.duplicate_of[j]], "near_duplicate"
    roots = [i if owner[i] < 0 else owner[i] for i in range(n)]
    roots = [r if owner[r] < 0 else owner[r] for r in roots]  # an exact copy of a near duplicate joins its group
    groups = np.bincount(roots, minlength=n) if n else []
    return {
        "min_neighbor_distance": distance,
        "repeat_count": [int(groups[r]) for r in roots],
        "duplicate_of": [None if r == i else batch["id"][r] for i, r in enumerate(roots)],
        "filter_reason": reasons,
    }
