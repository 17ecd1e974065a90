"""Shared fixtures and markers.

`tests/unit/` tests stage logic against a scripted engine (no model load);
`tests/integration/` uses the real vLLM engine with the embedded model,
loaded once per session; `tests/e2e/` runs the CLI. Each folder's tests get
their marker here, so `-m "not integration and not e2e"` is the fast suite.
"""

from __future__ import annotations

import os
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

# In-process engine: loads in seconds instead of spawning EngineCore + Worker.
os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
# A fresh datasets cache per session: exports of the same layout in different tmp folders
# can otherwise be served from an earlier session's cache entry.
os.environ.setdefault("HF_DATASETS_CACHE", tempfile.mkdtemp(prefix="magpie-hf-tests-datasets-"))

import pytest  # noqa: E402

from magpie_hf.models.presets import Preset, resolve_model  # noqa: E402

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items):
    for item in items:
        kind = Path(str(item.fspath)).relative_to(HERE).parts[0]
        if kind in ("integration", "e2e"):
            item.add_marker(getattr(pytest.mark, kind))


@pytest.fixture(scope="session")
def embedded() -> Preset:
    return resolve_model("embedded")


def tiny_llama(folder: Path, embedded: Preset, model_class: str, **config) -> Path:
    """`folder` holding a randomly initialised `transformers` `model_class` with 2 layers of the embedded model's
    shape (`config` overrides its other settings), and the embedded tokenizer and chat template."""
    import torch
    import transformers

    settings = transformers.AutoConfig.from_pretrained(embedded.model_path())
    settings.num_hidden_layers = 2
    for key, value in config.items():
        setattr(settings, key, value)
    torch.manual_seed(0)
    getattr(transformers, model_class)(settings).save_pretrained(folder)
    transformers.AutoTokenizer.from_pretrained(embedded.model_path()).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_reward_model(tmp_path_factory, embedded) -> Path:
    """A small randomly initialised Llama sequence classifier (2 layers of the embedded shape): a reward model."""
    return tiny_llama(tmp_path_factory.mktemp("reward_model"), embedded, "LlamaForSequenceClassification", num_labels=1)


@pytest.fixture(scope="session")
def tiny_chat_model(tmp_path_factory, embedded) -> Path:
    """A small randomly initialised Llama chat model (2 layers of the embedded model's shape), for training steps.

    In float32: a CPU without native bfloat16 takes minutes for one step of the embedded model's bfloat16 weights.
    """
    return tiny_llama(tmp_path_factory.mktemp("chat_model"), embedded, "LlamaForCausalLM", dtype="float32")


@pytest.fixture(scope="session")
def run_context():
    """One run context for the session's integration tests: the vLLM engine loads once, and is released at the end."""
    from magpie_hf.run.context import RunContext

    with RunContext() as run:
        yield run


@pytest.fixture(scope="session")
def vllm_engine(embedded: Preset, run_context):
    """The real vLLM engine on the embedded model, in the session's run context (integration and e2e tests)."""
    return run_context.engine(embedded)


@pytest.fixture(scope="session")
def hf_engine():
    """The transformers engine, in a context of its own (in the session's it would release the vLLM engine)."""
    from magpie_hf.run.context import RunContext

    with RunContext() as run:
        yield run.engine(resolve_model("embedded", engine="transformers"))


# repo -> (status, X-Error-Code) the fake Hub answers for its config.json
HUB_ANSWERS = {
    "acme/missing": (404, "RepoNotFound"),
    "acme/private": (401, "RepoNotFound"),
    "acme/gated": (401, "GatedRepo"),
    "acme/gated-token": (403, "GatedRepo"),
    "acme/no-config": (404, "EntryNotFound"),
    "acme/present": (200, None),
}
HUB_COMMIT = "0123456789abcdef0123456789abcdef01234567"


class FakeHub(BaseHTTPRequestHandler):
    """Answers `HEAD /{repo}/resolve/{revision}/config.json` the way the Hub does."""

    def do_HEAD(self):  # noqa: N802 - http.server's name
        org, name, _, revision, _ = self.path.lstrip("/").split("/")
        status, code = (404, "RevisionNotFound") if revision == "nope" else HUB_ANSWERS[f"{org}/{name}"]
        self.send_response(status)
        if code:
            self.send_header("X-Error-Code", code)
            self.send_header("X-Error-Message", "Access to model acme/gated is restricted.")
        self.send_header("X-Repo-Commit", HUB_COMMIT)
        self.send_header("ETag", '"abc"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def fake_hub() -> str:
    """A Hub on 127.0.0.1 that knows only the `acme/*` repos of `HUB_ANSWERS`; its URL, for HF_ENDPOINT."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeHub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


FIXTURES = HERE.parents[1] / "shared" / "fixtures" / "chat_templates"


@pytest.fixture(scope="session")
def second_model(tmp_path_factory) -> Path:
    """A "second model" folder: the embedded weights with DeepSeek-R1-Distill-Qwen's chat template.

    Another model id, a reasoning template that opens `<think>`, and turn
    markers that are plain text in this tokenizer: the production code paths
    (derived prefix and stops, engine switching) on CPU.
    """
    from magpie_hf.models.carriers import embedded_with_template

    template = FIXTURES / "deepseek-ai__DeepSeek-R1-Distill-Qwen-32B.json"
    return embedded_with_template(tmp_path_factory.mktemp("models") / "second-model", template)
