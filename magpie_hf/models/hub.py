"""Whether a Hub model can be used here: its `config.json` is in the local cache or on the Hub.

One HEAD request, not `hf_hub_download`: on a connection error that retries
five times with back-off (about 23 s) before giving up. The request honours
HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE (fails at once) and HF_HUB_ETAG_TIMEOUT
(default 10 s, the longest a silent network can hold it).

Example:
    >>> check_reachable("Qwen/Qwen2.5-Math-7B")  # doctest: +SKIP
    ModelUnreachable: model Qwen/Qwen2.5-Math-7B: the Hugging Face Hub cannot be reached ...
"""

from __future__ import annotations

from huggingface_hub import constants, get_hf_file_metadata, hf_hub_download, hf_hub_url
from huggingface_hub.errors import (
    GatedRepoError,
    HfHubHTTPError,
    HFValidationError,
    LocalEntryNotFoundError,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

CONFIG = "config.json"


class ModelUnreachable(Exception):
    """A Hub model that cannot be loaded here; `str()` is one line naming the model and the fix."""


def check_reachable(model_id: str, revision: str | None = None) -> None:
    """Return if the model's `config.json` is cached or answered by the Hub, else raise `ModelUnreachable`.

    For Hub ids only (a local folder needs no check). A repository without a
    `config.json` is reachable: what it holds is the loader's question.

    Args:
        model_id: a Hub id, `org/name`.
        revision: a branch, tag or commit; None for `main`.

    Raises:
        ModelUnreachable: offline or no connection (and not cached), missing
            (misspelled id or revision), or gated/private without a token.
    """
    try:
        hf_hub_download(model_id, CONFIG, revision=revision, local_files_only=True)
        return
    except LocalEntryNotFoundError:
        pass
    except HFValidationError as err:
        raise ModelUnreachable(_missing(model_id, revision)) from err
    try:
        get_hf_file_metadata(hf_hub_url(model_id, CONFIG, revision=revision), timeout=constants.HF_HUB_ETAG_TIMEOUT)
    except RemoteEntryNotFoundError:
        return
    except GatedRepoError as err:
        raise ModelUnreachable(_gated(model_id, revision)) from err
    except (RepositoryNotFoundError, RevisionNotFoundError) as err:
        raise ModelUnreachable(_missing(model_id, revision)) from err
    except Exception as err:  # noqa: BLE001 - offline, refused, timed out, proxy, Hub down: all "cannot reach"
        status = err.response.status_code if isinstance(err, HfHubHTTPError) else None
        message = _gated if status in (401, 403) else _missing if status == 404 else _offline
        raise ModelUnreachable(message(model_id, revision)) from err


def _name(model_id: str, revision: str | None) -> str:
    return f"model {model_id}" + (f" (revision {revision})" if revision else "")


def _offline(model_id: str, revision: str | None) -> str:
    command = f"hf download {model_id}" + (f" --revision {revision}" if revision else "")
    return (
        f"{_name(model_id, revision)}: the Hugging Face Hub cannot be reached (offline or no connection) and it is "
        f"not in the local cache; download it where there is a network (`{command}`), or give a local model folder"
    )


def _missing(model_id: str, revision: str | None) -> str:
    return (
        f"{_name(model_id, revision)} does not exist on the Hub (misspelled? a private one needs HF_TOKEN); "
        "check the id, or give a local model folder"
    )


def _gated(model_id: str, revision: str | None) -> str:
    return (
        f"{_name(model_id, revision)} is gated: accept its licence at {constants.ENDPOINT}/{model_id} "
        "and set HF_TOKEN (or `hf auth login`)"
    )
