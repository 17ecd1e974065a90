"""Checkpoint storage: a local folder, or any fsspec URL every worker can reach (shared mount, object store).

Shards are written locally first (datasets writes a temp file and renames it)
and, for a remote run dir, uploaded whole; the done marker is written only
after that, so a half-written shard is never marked done. A plain local path
(no `protocol://`) is checked and read without fsspec, so a finished run's
rerun does not import it.
"""

from __future__ import annotations

import json
import os
import tempfile
from functools import lru_cache
from typing import TYPE_CHECKING

from magpie_hf.models.cache import cache_dir

if TYPE_CHECKING:
    import fsspec
    from datasets import Dataset


@lru_cache(maxsize=None)
def _fs(protocol: str) -> fsspec.AbstractFileSystem:
    import fsspec  # noqa: PLC0415 - see the module doc

    return fsspec.filesystem(protocol)


def filesystem(url: str) -> tuple[fsspec.AbstractFileSystem, str]:
    """The filesystem of a path or URL, and the path within it."""
    from fsspec.core import split_protocol  # noqa: PLC0415

    protocol, path = split_protocol(url)
    fs = _fs(protocol or "file")
    return fs, fs._strip_protocol(url) if protocol else path


def _plain(url: str) -> str | None:
    """A local path given without a protocol, as `os` reads it (`~` expanded as fsspec does); else None."""
    return None if "://" in url else os.path.expanduser(url)


def _on_disk(fs: fsspec.AbstractFileSystem) -> bool:
    from fsspec.implementations.local import LocalFileSystem  # noqa: PLC0415

    return isinstance(fs, LocalFileSystem)


def is_local(url: str) -> bool:
    return _on_disk(filesystem(url)[0])


def join(base: str, *parts: str) -> str:
    return "/".join([base.rstrip("/"), *parts])


def exists(url: str) -> bool:
    if (local := _plain(url)) is not None:
        return os.path.exists(local)
    fs, path = filesystem(url)
    return fs.exists(path)


def makedirs(url: str) -> None:
    fs, path = filesystem(url)
    fs.makedirs(path, exist_ok=True)


def done_markers(directory: str) -> list[str]:
    """The shard done markers already written in a stage's folder (none if it does not exist)."""
    fs, path = filesystem(directory)
    return fs.glob(f"{path}/shard-*.done") if fs.exists(path) else []


def read_json(url: str) -> dict:
    if (local := _plain(url)) is not None:
        with open(local) as f:
            return json.load(f)
    fs, path = filesystem(url)
    with fs.open(path, "r") as f:
        return json.load(f)


def write_json(url: str, data: dict) -> None:
    """Atomically: a local temp file renamed into place, or one object upload."""
    fs, path = filesystem(url)
    if _on_disk(fs):
        tmp = f"{path}.tmp-{os.getpid()}"
        with open(tmp, "w") as f:
            json.dump(data, f)
        os.replace(tmp, path)
    else:
        fs.pipe_file(path, json.dumps(data).encode())


def staging_file(url: str) -> str:
    """Where `datasets` writes a shard before it goes to `url`: the place itself when it is local."""
    if is_local(url):
        return filesystem(url)[1]
    folder = cache_dir() / "staging"
    folder.mkdir(parents=True, exist_ok=True)
    return tempfile.mktemp(suffix=".arrow", dir=folder)


def commit_file(staged: str, url: str) -> None:
    """Move a staged shard to its (remote) place; a no-op when it was written in place."""
    fs, path = filesystem(url)
    if _on_disk(fs):
        return
    fs.put_file(staged, path)
    os.remove(staged)


def open_dataset(url: str) -> Dataset:
    """A shard as a Dataset: memory-mapped when local, read whole from a remote store."""
    import pyarrow as pa  # noqa: PLC0415 - a finished run's rerun opens no shard
    from datasets import Dataset  # noqa: PLC0415

    fs, path = filesystem(url)
    if _on_disk(fs):
        return Dataset.from_file(path)
    with fs.open(path, "rb") as f:
        return Dataset(pa.ipc.open_stream(f).read_all())
