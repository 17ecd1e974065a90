"""Input rows for recipes that start from existing problems (HF datasets or local files)."""

from __future__ import annotations

import glob
import hashlib
from pathlib import Path

from datasets import Dataset
from pydantic import BaseModel, ConfigDict, Field

from magpie_hf.core.fingerprint import fingerprint

LOCAL_SUFFIXES = {".json": "json", ".jsonl": "json", ".parquet": "parquet"}


class Source(BaseModel):
    """Where problems come from, and which of its columns hold them.

    `columns` maps our names (`problem`, `answer`, optionally `solution`) to the
    dataset's; DeepScaleR's `problem` / `answer` / `solution` is the default.
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

    def row_columns(self) -> list[str]:
        """The columns of the rows this source gives the first stage."""
        return ["id", "index", "domain", *self.columns, "answer"]

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


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_local(source: Source) -> Dataset:
    """The rows of local files; ValueError naming the file for an undecodable one, no rows for empty files."""
    from datasets import load_dataset  # noqa: PLC0415 - keeps `import magpie_hf` light
    from datasets.exceptions import DatasetGenerationError  # noqa: PLC0415

    files = [f for f in source.files() if Path(f).stat().st_size > 0]
    if not files:
        return Dataset.from_dict({})
    try:
        return load_dataset(LOCAL_SUFFIXES[Path(source.path).suffix], data_files=files, split="train")
    except (DatasetGenerationError, UnicodeDecodeError, ValueError) as err:
        kind = "UTF-8 JSON lines" if LOCAL_SUFFIXES[Path(source.path).suffix] == "json" else "Parquet"
        cause = str(err.__cause__ or err).splitlines()[0][:160]
        raise ValueError(
            f"source.path: '{source.path}' is not readable as {kind} ({cause}); fix or re-export the file"
        ) from None


def load_source(source: Source, domain: str, count: int | None = None) -> tuple[Dataset, str]:
    """Rows with `id`, `index` (original position), `domain` and the mapped columns; and their fingerprint.

    `where` filters rows first; `count` (or the source's `limit`) then keeps the first ones.
    """
    from datasets import load_dataset  # noqa: PLC0415 - keeps `import magpie_hf` light

    source.check()
    if source.is_local():
        data = read_local(source)
        origin = "+".join(_file_digest(Path(f)) for f in source.files())
    else:
        data = load_dataset(source.path, split=source.split)
        origin = f"{source.path}@{data._fingerprint}"
    if not len(data):
        empty = {column: [] for column in source.row_columns()}
        return Dataset.from_dict(empty), fingerprint({"source": origin, "rows": 0, "domain": domain})
    wanted = [theirs for ours, theirs in source.columns.items() if ours != "solution"] + [
        source.id_column or "id"
    ] * bool(source.id_column)
    missing = [column for column in wanted if column not in data.column_names]
    if missing:
        raise ValueError(
            f"source.columns: column '{missing[0]}' is not in {source.path}; it has: {', '.join(data.column_names)}"
        )
    for column, allowed in source.where.items():
        if column not in data.column_names:
            raise ValueError(
                f"source.where: column '{column}' is not in {source.path}; it has: {', '.join(data.column_names)}"
            )
        data = data.filter(lambda value: value in allowed, input_columns=column)
    limit = count or source.limit
    if limit is not None:
        data = data.select(range(min(limit, len(data))))
    mapped = {ours: data[theirs] for ours, theirs in source.columns.items() if theirs in data.column_names}
    mapped["answer"] = [None if a is None else str(a) for a in mapped.get("answer", [None] * len(data))]
    ids = (
        [str(i) for i in data[source.id_column]]
        if source.id_column
        else [f"{domain}-{i:06d}" for i in range(len(data))]
    )
    rows = Dataset.from_dict({"id": ids, "index": list(range(len(data))), "domain": [domain] * len(data), **mapped})

    described = {
        "source": origin,
        "split": source.split,
        "columns": source.columns,
        "where": source.where,
        "ids": source.id_column,
    }
    return rows, fingerprint({**described, "rows": len(rows), "domain": domain})
