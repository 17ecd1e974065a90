"""Unit tests run stage logic against a scripted engine: exact replies, exact assertions, no model load."""

from __future__ import annotations

from dataclasses import replace

import pytest

from magpie_hf.engines import BACKENDS, USAGE, install_engine
from magpie_hf.engines.fake import ScriptedEngine
from magpie_hf.models.presets import Preset, resolve_model


@pytest.fixture
def scripted(monkeypatch) -> tuple[Preset, ScriptedEngine]:
    """The embedded preset (its real chat template) on a fresh scripted engine: `engine.rules[...] = reply`."""
    engine = ScriptedEngine()
    monkeypatch.setitem(BACKENDS, "fake", lambda preset: engine)
    preset = replace(resolve_model("embedded"), engine="fake")
    install_engine(preset, engine)
    return preset, engine


@pytest.fixture
def usage():
    """The process-wide token counter, as the runner reads it."""
    return USAGE
