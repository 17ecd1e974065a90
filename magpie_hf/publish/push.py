"""Publish an exported folder to a Hub dataset repo, merging its card with the one already there."""

from __future__ import annotations

import importlib
import os
from pathlib import Path

PLACEHOLDER = "<user>/<dataset>"


class PushError(RuntimeError):
    """The push could not happen; the local export is untouched."""


def merge_readme(local: str, remote: str | None, repo_id: str) -> str:
    """Our card over the repo's: keep every foreign config and every metadata field the user set.

    Configs with one of our names are ours (they describe our files); the body is ours.
    """
    from huggingface_hub import DatasetCard, DatasetCardData

    ours = DatasetCard(local.replace(PLACEHOLDER, repo_id))
    if not remote:
        return str(ours)
    theirs = DatasetCard(remote).data.to_dict()
    data = ours.data.to_dict()
    our_configs = data.get("configs", [])
    names = {c["config_name"] for c in our_configs}
    foreign = [c for c in theirs.get("configs", []) if c.get("config_name") not in names]
    if foreign:
        for config in our_configs:
            config.pop("default", None)  # the repo already chose its default, or has none of ours
    merged = {**data, **{k: v for k, v in theirs.items() if k != "configs" and v not in (None, [], "")}}
    merged["configs"] = foreign + our_configs
    return f"---\n{DatasetCardData(**merged).to_yaml()}\n---\n{ours.text}"


def push_plan(folder: Path, remote_readme: str | None, repo_id: str) -> dict[str, bytes | Path]:
    """Every file the commit adds, by its path in the repo: the export as it is, README merged."""
    plan: dict[str, bytes | Path] = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if path.is_file() and not any(part.startswith(".") for part in relative.parts):
            plan[relative.as_posix()] = path
    if "README.md" not in plan:
        raise PushError(f"{folder}: no README.md: this is not a magpie-hf export (run `magpie-hf run` first)")
    plan["README.md"] = merge_readme((folder / "README.md").read_text(), remote_readme, repo_id).encode()
    return plan


def _http_client_errors() -> tuple[type[Exception], ...]:
    """The HTTP client's base error class (huggingface_hub moved from requests to httpx, then httpx2)."""
    errors = []
    for module in ("httpx2", "httpx"):
        try:
            errors.append(importlib.import_module(module).HTTPError)
        except (ImportError, AttributeError):
            continue
    return tuple(errors)


def check_repo_id(repo_id: str) -> None:
    """PushError unless `repo_id` is a valid `namespace/name` dataset repo id."""
    from huggingface_hub.errors import HFValidationError  # noqa: PLC0415
    from huggingface_hub.utils import validate_repo_id  # noqa: PLC0415

    try:
        validate_repo_id(repo_id)
    except HFValidationError as err:
        reason = str(err).splitlines()[0]
        raise PushError(f"repo id '{repo_id}' is not valid ({reason}); use <user or org>/<name>, e.g. me/magpie-math") from None


def resolve_token(token: str | None) -> str:
    """--token, else HF_TOKEN, else the token `hf auth login` stored."""
    from huggingface_hub import get_token

    found = token or os.environ.get("HF_TOKEN") or get_token()
    if not found:
        raise PushError("no Hugging Face token: set HF_TOKEN, run `hf auth login`, or pass --token")
    return found


def push(folder: Path, repo_id: str, private: bool = False, token: str | None = None) -> str:
    """Create (or reuse) the dataset repo and commit the export in one commit; returns the repo URL."""
    from huggingface_hub import CommitOperationAdd, HfApi
    from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError, RepositoryNotFoundError

    if not folder.is_dir():
        raise PushError(f"{folder}: no such export folder")
    check_repo_id(repo_id)
    api = HfApi(token=resolve_token(token))
    try:
        url = api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        try:
            remote = Path(api.hf_hub_download(repo_id, "README.md", repo_type="dataset")).read_text()
        except (EntryNotFoundError, RepositoryNotFoundError):
            remote = None
        operations = [
            CommitOperationAdd(
                path_in_repo=path, path_or_fileobj=content if isinstance(content, bytes) else str(content)
            )
            for path, content in push_plan(folder, remote, repo_id).items()
        ]
        api.create_commit(
            repo_id, operations=operations, repo_type="dataset", commit_message=f"magpie-hf export of {folder.name}"
        )
    except (HfHubHTTPError, OSError, *_http_client_errors()) as err:
        reason = (str(err).splitlines() or [""])[0]
        raise PushError(
            f"could not push to the Hugging Face Hub ({type(err).__name__}: {reason}); the local copy in {folder} is untouched"
        ) from None
    return str(url)
