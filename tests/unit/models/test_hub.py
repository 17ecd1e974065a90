"""check_reachable against loopback only: offline mode, a closed port, a fake Hub, a filled cache.

Each check runs in a child process with the environment set, as a user runs
it: huggingface_hub reads HF_ENDPOINT, HF_HUB_OFFLINE and HF_HUB_CACHE once,
at import.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

CHILD = """
import json, sys, time
from magpie_hf.models.hub import ModelUnreachable, check_reachable
answers = []
for model_id, revision in json.loads(sys.argv[1]):
    start = time.monotonic()
    try:
        check_reachable(model_id, revision)
        message = None
    except ModelUnreachable as err:
        message = str(err)
    answers.append((message, time.monotonic() - start))
print(json.dumps(answers))
"""
ENDPOINT = "http://127.0.0.1:{}"
COMMIT = "0123456789abcdef0123456789abcdef01234567"  # the fake Hub's (tests/conftest.py)
ANSWERS = ("acme/missing", "acme/private", "acme/gated", "acme/gated-token", "acme/no-config", "acme/present")


@pytest.fixture(scope="module")
def hub_answers(tmp_path_factory, fake_hub) -> dict[tuple[str, str | None], tuple[str | None, float]]:
    """Every fake-Hub case checked by one child against the fake Hub on 127.0.0.1: (model, revision) -> answer."""
    models = [(model_id, None) for model_id in ANSWERS] + [("acme/present", "nope")]
    answers = check(tmp_path_factory.mktemp("hub"), models, HF_ENDPOINT=fake_hub)
    return dict(zip(models, answers))


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def check(folder, models: list[tuple[str, str | None]], **env: str) -> list[tuple[str | None, float]]:
    """(message or None, seconds the call took) per (model, revision), from one child with `env`.

    The child has no token, and its cache is `folder/cache` (empty unless a test fills it).
    """
    base = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING_FACE_"))}
    base |= {"HF_HOME": str(folder / "home"), "HF_HUB_CACHE": str(folder / "cache"), "NO_PROXY": "127.0.0.1"}
    result = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(models)], env=base | env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return [tuple(answer) for answer in json.loads(result.stdout.splitlines()[-1])]


def offline_message(model_id: str) -> str:
    return (
        f"model {model_id}: the Hugging Face Hub cannot be reached (offline or no connection) and it is not in the "
        f"local cache; download it where there is a network (`hf download {model_id}`), or give a local model folder"
    )


def test_offline_mode_with_nothing_cached(tmp_path):
    [(message, seconds)] = check(tmp_path, [("Qwen/Qwen2.5-Math-7B", None)], HF_HUB_OFFLINE="1")
    assert message == offline_message("Qwen/Qwen2.5-Math-7B")
    assert seconds < 3


def test_connection_refused_is_offline_without_retries(tmp_path):
    endpoint = ENDPOINT.format(closed_port())
    [(message, seconds)] = check(tmp_path, [("Qwen/Qwen2.5-Math-7B", None)], HF_ENDPOINT=endpoint)
    assert message == offline_message("Qwen/Qwen2.5-Math-7B")
    assert seconds < 3  # hf_hub_download retries for ~23 s


@pytest.mark.parametrize("model_id", ["acme/missing", "acme/private"])
def test_missing_repository(hub_answers, model_id):
    message, seconds = hub_answers[model_id, None]
    assert message == (
        f"model {model_id} does not exist on the Hub (misspelled? a private one needs HF_TOKEN); "
        "check the id, or give a local model folder"
    )
    assert seconds < 3


def test_missing_revision_names_it(hub_answers):
    message, _ = hub_answers["acme/present", "nope"]
    assert message.startswith("model acme/present (revision nope) does not exist on the Hub (misspelled?")


@pytest.mark.parametrize("model_id", ["acme/gated", "acme/gated-token"])
def test_gated_repository(hub_answers, model_id):
    message, seconds = hub_answers[model_id, None]
    assert message.startswith(f"model {model_id} is gated: accept its licence at http://127.0.0.1:")
    assert message.endswith(f"/{model_id} and set HF_TOKEN (or `hf auth login`)")
    assert seconds < 3


@pytest.mark.parametrize("model_id", ["acme/present", "acme/no-config"])
def test_reachable_repository(hub_answers, model_id):
    assert hub_answers[model_id, None][0] is None


def test_cached_config_is_reachable_offline(tmp_path):
    repo = tmp_path / "cache" / "models--acme--cached"
    (repo / "snapshots" / COMMIT).mkdir(parents=True)
    (repo / "snapshots" / COMMIT / "config.json").write_text("{}")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    [(message, seconds)] = check(tmp_path, [("acme/cached", None)], HF_HUB_OFFLINE="1")
    assert message is None and seconds < 3
