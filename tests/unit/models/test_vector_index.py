"""Nearest-neighbour dedup: the approximate index keeps what the exact walk keeps on real problems."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from magpie_hf.models.embeddings import embed
from magpie_hf.models.vector_index import near_duplicates

TRAIN = Path("../shared/data/train/math_train_2k.jsonl")


@pytest.mark.integration  # embeds 500 problems (~10 s): outside the fast suite
def test_hnsw_and_exact_walks_keep_the_same_problems_with_planted_rewordings():
    problems = [json.loads(line)["problem"] for line in TRAIN.open()][:450]
    planted = [p.replace("Find", "Compute").replace("What", "what") + " " for p in problems[:50]]
    vectors = embed(problems + planted)
    exact = near_duplicates(vectors, 0.05, exact=True)
    approximate = near_duplicates(vectors, 0.05, exact=False)
    differences = np.flatnonzero(exact.keep != approximate.keep)
    assert differences.size == 0, [(int(i), (problems + planted)[i][:60]) for i in differences]
    assert (~exact.keep[450:]).sum() >= 45  # the rewordings are found
    assert np.allclose(exact.min_neighbor_distance, approximate.min_neighbor_distance, atol=1e-3)
    assert exact.repeat_count[exact.duplicate_of[exact.duplicate_of >= 0]].min() >= 2
