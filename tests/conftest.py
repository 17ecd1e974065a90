"""Shared fixtures and markers.

`tests/unit/` tests stage logic against a scripted engine (no model load);
`tests/integration/` uses the real vLLM engine with the embedded model,
loaded once per session; `tests/e2e/` runs the CLI. Each folder's tests get
their marker here, so `-m "not integration and not e2e"` is the fast suite.
"""

from __future__ import annotations

import os
import tempfile
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


@pytest.fixture(scope="session")
def vllm_engine(embedded: Preset):
    """The real vLLM engine on the embedded model, built once per session (integration and e2e tests)."""
    from magpie_hf.engines import get_engine

    return get_engine(embedded)


@pytest.fixture(scope="session")
def hf_engine() -> object:
    from magpie_hf.engines import get_engine

    return get_engine(resolve_model("embedded", engine="transformers"))


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
