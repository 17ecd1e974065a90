"""Nearest neighbours of unit vectors with faiss, in memory linear in N; greedy near-duplicate removal.

Below `EXACT_MAX` vectors the index is exact (inner product = cosine on unit
vectors); above, an inverted file (IVF: about 4·√N k-means lists, `NPROBE` of
them searched per query; recall measured in `bench/dedup.py`). Near duplicates
lie in the same or a neighbouring list, so they are found as by the exact
index; a row's distance to a far neighbour may come out larger than it is. A
GPU index is used for the exact search where faiss sees a GPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EXACT_MAX = 20_000
SEARCH_BATCH = 4096
NPROBE = 16
TRAIN_PER_LIST = 40  # faiss asks for at least 39 training vectors per k-means centroid


def build_index(vectors: np.ndarray, exact: bool | None = None):
    """A faiss index over unit float32 vectors: flat (exact) when small or asked, else IVF."""
    import faiss  # noqa: PLC0415 - only the model-free dedup and decontamination stages need it

    n, dim = vectors.shape
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if exact if exact is not None else n <= EXACT_MAX:
        index = faiss.IndexFlatIP(dim)
        if faiss.get_num_gpus() > 0:
            index = faiss.index_cpu_to_all_gpus(index)
    else:
        lists = max(1, min(int(4 * np.sqrt(n)), n // TRAIN_PER_LIST))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, lists, faiss.METRIC_INNER_PRODUCT)
        sample = np.random.default_rng(0).choice(n, min(n, TRAIN_PER_LIST * lists), replace=False)
        index.train(vectors[np.sort(sample)])
        index.nprobe = min(lists, NPROBE)
    index.add(vectors)
    return index


def search(index, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k (similarities, ids) of every query, searched in batches so memory stays bounded."""
    sims, ids = [], []
    for start in range(0, len(queries), SEARCH_BATCH):
        s, i = index.search(np.ascontiguousarray(queries[start : start + SEARCH_BATCH], dtype=np.float32), k)
        sims.append(s)
        ids.append(i)
    if not sims:
        return np.zeros((0, k), np.float32), np.zeros((0, k), np.int64)
    return np.concatenate(sims), np.concatenate(ids)


@dataclass
class NearDuplicates:
    """Per row: distance to its nearest other row, the kept row it duplicates (-1 if kept), group sizes."""

    min_neighbor_distance: np.ndarray
    duplicate_of: np.ndarray
    repeat_count: np.ndarray

    @property
    def keep(self) -> np.ndarray:
        return self.duplicate_of < 0


def near_duplicates(vectors: np.ndarray, threshold: float, k: int = 16, exact: bool | None = None) -> NearDuplicates:
    """Walk rows in order; a row within cosine distance `threshold` of an earlier KEPT row is its duplicate.

    With an exact index and enough neighbours this is the quadratic walk's
    result; each row only looks at its `k` nearest neighbours. `repeat_count`
    is the size of the row's group (the kept row and its duplicates), as
    Magpie's release pipeline records it.

    Example:
        >>> v = np.eye(3, dtype=np.float32)[[0, 0, 1]]
        >>> near_duplicates(v, 0.05).duplicate_of.tolist()
        [-1, 0, -1]
    """
    n = len(vectors)
    distance = np.full(n, np.nan, dtype=np.float64)
    duplicate_of = np.full(n, -1, dtype=np.int64)
    if n < 2:
        return NearDuplicates(distance, duplicate_of, np.ones(n, dtype=np.int64))
    sims, ids = search(build_index(vectors, exact), vectors, min(k + 1, n))
    others = ids != np.arange(n)[:, None]
    best = np.where(others & (ids >= 0), sims, -np.inf).max(axis=1)
    distance = 1.0 - best.astype(np.float64)
    for row in np.flatnonzero(distance < threshold):  # only rows with a close neighbour can be duplicates
        for sim, other in zip(sims[row], ids[row]):
            if 0 <= other < row and duplicate_of[other] < 0 and 1.0 - sim < threshold:
                duplicate_of[row] = other
                break
    groups = np.where(duplicate_of < 0, np.arange(n), duplicate_of)
    sizes = np.bincount(groups, minlength=n)
    return NearDuplicates(distance, duplicate_of, sizes[groups])
