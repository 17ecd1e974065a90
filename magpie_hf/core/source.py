"""A recipe's `source:`: an HF dataset or local files, and which columns hold the problems (read by `run.sources`)."""

from __future__ import annotations

import glob
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

LOCAL_SUFFIXES = MappingProxyType({".json": "json", ".jsonl": "json", ".parquet": "parquet"})
SOURCE_ROW = "source_row"  # with `keep: all`, every field of the source row, as read


class Source(BaseModel):
    """Where problems come from, and which of its columns hold them.

    `columns` maps our names (`problem`, `answer`, optionally `solution`) to the
    dataset's; DeepScaleR's `problem` / `answer` / `solution` is the default.
    `keep: all` also gives each row every field of its source row, names and
    values as read, in one `source_row` column that later stages carry along.
    Relative paths are relative to the directory the command runs in (the
    project root), e.g. `../shared/data/train/math_train_2k.jsonl`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str
    split: str = "train"
    columns: dict[str, str] = Field(
        default_factory=lambda: {"problem": "problem", "answer": "answer", "solution": "solution"}
    )
    limit: int | None = Field(default=None, gt=0)
    where: dict[str, list] = Field(default_factory=dict)  # keep rows whose column value is listed
    id_column: str | None = None  # keep the source's ids (else `<domain>-<index>`)
    keep: Literal["mapped", "all"] = "mapped"  # all: also every field of the row, as `source_row`

    def row_columns(self) -> list[str]:
        """The columns of the rows this source gives the first stage."""
        whole_row = [SOURCE_ROW] if self.keep == "all" else []
        return ["id", "index", "domain", *self.columns, "answer", *whole_row]

    def is_local(self) -> bool:
        return Path(self.path).suffix in LOCAL_SUFFIXES

    def files(self) -> list[str]:
        """The local files `path` names (a glob such as `data/x/problems/*/*.parquet` is allowed)."""
        return sorted(glob.glob(self.path)) if glob.has_magic(self.path) else [self.path] * Path(self.path).is_file()

    def check(self) -> None:
        """Raise ValueError (naming the path and the fix) when a local file is missing."""
        if self.is_local() and not self.files():
            hint = (
                " (../shared/ sits beside the project checkout; see ../shared/data/README.md)"
                if "shared/" in self.path
                else ""
            )
            if glob.has_magic(self.path):
                hint = " (run the recipe that writes them first, or set source.path)"
            raise ValueError(
                f"source.path: no file matches '{self.path}'{hint}"
                if glob.has_magic(self.path)
                else f"source.path: file '{self.path}' not found{hint}"
            )
