"""Unit tests run stage logic against a scripted engine: exact replies, exact assertions, no model load."""

from __future__ import annotations

from dataclasses import replace

import pytest

from magpie_hf.engines import BACKENDS
from magpie_hf.engines.fake import ScriptedEngine
from magpie_hf.models.presets import resolve_model
from magpie_hf.run.context import BoundModel, RunContext


@pytest.fixture
def scripted(monkeypatch) -> tuple[BoundModel, ScriptedEngine]:
    """The embedded preset (its real chat template) bound to a run whose engine is a fresh scripted one.

    `engine.rules[...] = reply`; `model.preset` and `model.run` go to `run_stages(..., run=model.run)`.
    """
    engine = ScriptedEngine()
    monkeypatch.setitem(BACKENDS, "fake", lambda preset: engine)
    preset = replace(resolve_model("embedded"), engine="fake")
    run = RunContext()
    run.install(preset, engine)
    yield run.bind(preset), engine
    run.close()
