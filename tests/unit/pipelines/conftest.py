"""Fixtures the pipeline tests share."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest


@pytest.fixture
def forum_problems(tmp_path) -> Callable[[list[str], list[str | None]], Path]:
    """A function that writes problems.yaml's export layout (ids `t<i>-p0`, clean) for problems and their answers."""

    def write(problems: list[str], answers: list[str | None]) -> Path:
        from datasets import Dataset

        path = tmp_path / "problems.parquet"
        Dataset.from_dict(
            {
                "id": [f"t{i}-p0" for i in range(len(problems))],
                "problem": problems,
                "expected_answer": answers,
                "contaminated": [False] * len(problems),
                "post_id": [f"t{i}" for i in range(len(problems))],
            }
        ).to_parquet(path)
        return path

    return write
