"""Nearest-neighbour dedup: the approximate index keeps what the exact walk keeps on real problems."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from magpie_hf.models.embeddings import Embedder
from magpie_hf.models.vector_index import near_duplicates

TRAIN = Path("../shared/data/train/math_train_2k.jsonl")
REAL, REWORDED = 250, 50


@pytest.fixture(scope="module")
def problems() -> list[str]:
    """The first `REAL` training problems, then rewordings of the first `REWORDED` of them."""
    real = [json.loads(line)["problem"] for line in TRAIN.open()][:REAL]
    return real + [p.replace("Find", "Compute").replace("What", "what") + " " for p in real[:REWORDED]]


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder.load("cpu")


@pytest.fixture(scope="module")
def vectors(problems, embedder) -> np.ndarray:
    return embedder.embed(problems, dtype="float32")


@pytest.mark.integration  # embeds 300 problems (~8 s): outside the fast suite
def test_ivf_and_exact_walks_keep_the_same_problems_with_planted_rewordings(problems, vectors):
    exact = near_duplicates(vectors, 0.05, exact=True)
    approximate = near_duplicates(vectors, 0.05, exact=False)
    differences = np.flatnonzero(exact.keep != approximate.keep)
    assert differences.size == 0, [(int(i), problems[i][:60]) for i in differences]
    assert (~exact.keep[REAL:]).sum() >= 45  # the rewordings are found
    assert np.allclose(exact.min_neighbor_distance, approximate.min_neighbor_distance, atol=1e-3)
    assert exact.repeat_count[exact.duplicate_of[exact.duplicate_of >= 0]].min() >= 2


@pytest.mark.integration
def test_bfloat16_encoding_keeps_the_same_problems_as_float32(problems, vectors, embedder):
    """On 75 of the real problems and the 50 rewordings of their first 50 (bfloat16 is slow on a CPU without it)."""
    rows = [*range(75), *range(REAL, REAL + REWORDED)]
    half, vectors = embedder.embed([problems[i] for i in rows], dtype="bfloat16"), vectors[rows]
    assert half.dtype == np.float32
    assert (half * vectors).sum(1).min() > 0.9999
    full, fast = near_duplicates(vectors, 0.05, exact=True), near_duplicates(half, 0.05, exact=True)
    differences = np.flatnonzero(full.keep != fast.keep)
    assert differences.size == 0, [(int(rows[i]), problems[rows[i]][:60]) for i in differences]
    near = full.min_neighbor_distance < 0.1  # around the threshold the distances agree to 1e-3
    assert near.sum() >= 50
    assert np.allclose(full.min_neighbor_distance[near], fast.min_neighbor_distance[near], atol=1e-3)
    assert np.allclose(full.min_neighbor_distance, fast.min_neighbor_distance, atol=1e-2)


@pytest.mark.integration
def test_a_repeated_text_gets_the_vector_it_gets_alone(problems, vectors, embedder):
    again = embedder.embed([problems[3], problems[0], problems[3]], dtype="float32")
    assert np.array_equal(again[0], again[2])
    assert np.allclose(again, vectors[[3, 0, 3]], atol=1e-5)
