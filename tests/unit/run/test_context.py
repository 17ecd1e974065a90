"""The run context's model policy with fake models: one heavy model per device, in order, released at the end."""

from __future__ import annotations

from dataclasses import replace

import pytest

from magpie_hf.engines import BACKENDS, Sampling
from magpie_hf.engines.fake import ScriptedEngine
from magpie_hf.models.presets import resolve_model
from magpie_hf.run.context import RunContext
from magpie_hf.sandbox import SandboxLimits


class Fake:
    """A loaded model that records its own release."""

    def __init__(self, name: str, closed: list[str]):
        self.name, self.closed = name, closed

    def close(self) -> None:
        self.closed.append(self.name)


def load(run: RunContext, name: str, devices: tuple[str, ...], closed: list[str], heavy: bool = True) -> Fake:
    return run.load((name,), "engine", name, devices, lambda: Fake(name, closed), heavy=heavy)


def steps(run: RunContext) -> list[tuple[str, str, str]]:
    return [(e["event"], e["model"], e["device"]) for e in run.events]


def test_a_heavy_model_releases_what_holds_its_devices_and_only_that():
    closed: list[str] = []
    with RunContext() as run:
        a = load(run, "a", ("cuda:0",), closed)
        load(run, "b", ("cuda:1",), closed)  # another device: a stays
        assert load(run, "a", ("cuda:0",), closed) is a and closed == []  # held: not loaded again
        load(run, "c", ("cuda:0", "cuda:1"), closed)  # tensor parallel over both: a and b go first
        assert closed == ["a", "b"]
        assert steps(run) == [
            ("load", "a", "cuda:0"),
            ("load", "b", "cuda:1"),
            ("release", "a", "cuda:0"),
            ("release", "b", "cuda:1"),
            ("load", "c", "cuda:0,cuda:1"),
        ]
    assert closed == ["a", "b", "c"] and steps(run)[-1] == ("release", "c", "cuda:0,cuda:1")  # the run released it


def test_light_models_neither_release_nor_are_released():
    closed: list[str] = []
    with RunContext() as run:
        load(run, "engine", ("cpu",), closed)
        load(run, "embedder", ("cpu",), closed, heavy=False)  # MiniLM on a CPU
        assert closed == []
        load(run, "scorer", ("cpu",), closed)
        assert closed == ["engine"]
    assert closed == ["engine", "embedder", "scorer"]


def test_share_device_keeps_both_loaded():
    closed: list[str] = []
    with RunContext(share_device=True) as run:
        load(run, "engine", ("cuda:0",), closed)
        load(run, "scorer", ("cuda:0",), closed)
        assert closed == [] and [e["event"] for e in run.events] == ["load", "load"]


def test_a_failing_run_still_releases_what_it_loaded():
    closed: list[str] = []
    with pytest.raises(RuntimeError), RunContext() as run:
        load(run, "engine", ("cpu",), closed)
        raise RuntimeError("a stage failed")
    assert closed == ["engine"] and run.loaded == {}


def test_engines_differ_by_every_engine_setting(monkeypatch):
    built: list[tuple] = []
    monkeypatch.setitem(BACKENDS, "fake", lambda preset: built.append(preset.settings()) or ScriptedEngine())
    small = replace(resolve_model("embedded"), engine="fake", engine_args=(("max_model_len", 1024),))
    with RunContext() as run:
        first = run.engine(small)
        assert run.engine(small) is first
        second = run.engine(replace(small, engine_args=(("max_model_len", 2048),)))
        assert second is not first and [b["max_model_len"] for b in built] == [1024, 2048]
        assert [e["event"] for e in run.events] == ["load", "release", "load"]  # one device (the CPU): one at a time


def test_failures_belong_to_one_bound_model(scripted):
    model, _ = scripted
    model.generate(["word " * 3000], Sampling(), ids=["x"])
    assert model.failures == {"x": "prompt_too_long"}
    assert model.run.bind(model.preset).failures == {}  # the next batch starts clean


def test_a_run_holds_one_sandbox_per_limits_and_closes_it():
    limits = SandboxLimits(wall_seconds=5)
    with RunContext() as run:
        run.load(("engine",), "engine", "e", ("cpu",), lambda: Fake("e", []))  # heavy on the CPU: stays loaded
        sandbox = run.sandbox(limits)
        assert run.bind(resolve_model("embedded")).sandbox(SandboxLimits(wall_seconds=5)) is sandbox
        assert run.sandbox(SandboxLimits(wall_seconds=6)) is not sandbox
        assert sandbox.run("print(6 * 7)").text == "42\n"
        assert [e["kind"] for e in run.events] == ["engine", "sandbox", "sandbox"]
    assert [(e["event"], e["kind"]) for e in run.events[3:]] == [("release", "engine")] + [("release", "sandbox")] * 2
    with pytest.raises(RuntimeError, match="closed"):
        sandbox.run("print(1)")
