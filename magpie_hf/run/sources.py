"""Input rows for recipes that start from existing problems (HF datasets or local files)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from datasets import Dataset

from magpie_hf.core.fingerprint import fingerprint
from magpie_hf.core.source import LOCAL_SUFFIXES, SOURCE_ROW, Source


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
    """Rows with `id`, `index` (original position), `domain`, the mapped columns (and with `keep: all`,
    `source_row`: every field of the row); and their fingerprint.

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
    if source.keep == "all":
        mapped[SOURCE_ROW] = data.to_list()
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
        **({"keep": source.keep} if source.keep != "mapped" else {}),  # the default keeps earlier fingerprints
    }
    return rows, fingerprint({**described, "rows": len(rows), "domain": domain})
