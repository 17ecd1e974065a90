"""Integration tests: the real vLLM engine on the embedded model, built once per session."""

from __future__ import annotations

import pytest

from magpie_hf.engines import get_engine
from magpie_hf.models.presets import Preset, get_preset


@pytest.fixture(scope="session")
def vllm_engine(embedded: Preset):
    return get_engine(embedded)


@pytest.fixture(scope="session")
def hf_engine() -> object:
    return get_engine(get_preset("embedded", engine="transformers"))
