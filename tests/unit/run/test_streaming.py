"""Streaming shards on an engine that takes concurrent calls: overlap, in-order commits, a failure stops the rest."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import pytest
from datasets import Dataset

from magpie_hf.core.recipe import Recipe
from magpie_hf.engines import BACKENDS
from magpie_hf.engines.fake import ScriptedEngine
from magpie_hf.models.presets import resolve_model
from magpie_hf.run import storage
from magpie_hf.run.context import RunContext
from magpie_hf.run.executors import local
from magpie_hf.run.runner import run_stages


class SlowConcurrentEngine(ScriptedEngine):
    """Answers each call after 0.3 s (`slow_on` prompts: 1.5 s), counting calls in flight; records finish order."""

    def __init__(self, fail_on: tuple[str, ...] = (), capacity: int = 1, slow_on: tuple[str, ...] = ()):
        super().__init__(default="\\boxed{1}")
        self.capacity = capacity  # requests it runs at once
        self.lock, self.inflight, self.most, self.fail_on, self.slow_on = threading.Lock(), 0, 0, fail_on, slow_on
        self.finished: list[str] = []  # each call's first prompt, in the order the calls ended

    def generate(self, prompts, sampling, usage=None):
        with self.lock:
            self.inflight += 1
            self.most = max(self.most, self.inflight)
        try:
            if any(bad in p for bad in self.fail_on for p in prompts):
                raise RuntimeError("engine lost")
            time.sleep(1.5 if any(slow in p for slow in self.slow_on for p in prompts) else 0.3)
            with self.lock:
                self.finished.append(prompts[0])
                return super().generate(prompts, sampling)
        finally:
            with self.lock:
                self.inflight -= 1


def run(tmp_path, engine: SlowConcurrentEngine, monkeypatch, rows: int = 8):
    monkeypatch.setitem(BACKENDS, "fake", lambda preset: engine)
    monkeypatch.setattr(local, "ROWS_PER_SLOT", 2)  # so capacity 1 streams two of these 2-row shards
    recipe = Recipe(name="t", count=rows, stages=[{"stage": "sample", "label": "solution", "max_tokens": 8}])
    data = Dataset.from_dict(
        {
            "id": [f"p{i}" for i in range(rows)],
            "domain": ["d"] * rows,
            "problem": [f"Problem {i}?" for i in range(rows)],
        }
    )
    preset = replace(resolve_model("embedded"), engine="fake")
    with RunContext() as context:
        return run_stages(data, "fp", recipe.stage_entries(), preset, tmp_path, 2, run=context)


@pytest.mark.parametrize(("capacity", "in_flight"), [(0, 1), (1, 2), (4, 3)])
def test_shards_fill_the_engine_and_commit_in_order(tmp_path, monkeypatch, capacity, in_flight):
    """2-row shards, 2 rows in flight per request the engine runs at once (2 shards at least, never all 4 pending:
    the last waits for another to finish); one at a time without a capacity."""
    engine = SlowConcurrentEngine(capacity=capacity)
    committed: list[str] = []
    write = storage.write_json
    monkeypatch.setattr(storage, "write_json", lambda url, data: (committed.append(url), write(url, data)))
    result = run(tmp_path, engine, monkeypatch)
    assert engine.most == in_flight
    assert result.complete and result.datasets["solution"]["id"] == [f"p{i}" for i in range(8)]
    assert [url.rsplit("/", 1)[-1] for url in committed] == [f"shard-{i:05d}.done" for i in range(4)]
    assert result.reports[0].shards_run == 4


def test_a_failing_shard_stops_the_stage_and_no_later_shard_commits(tmp_path, monkeypatch):
    engine = SlowConcurrentEngine(fail_on=("Problem 4?", "Problem 5?"))  # shard 2 fails, its rows alone too
    with pytest.raises(RuntimeError, match="engine lost"):
        run(tmp_path, engine, monkeypatch)
    done = sorted(p.name for p in tmp_path.glob("solution-*/*.done"))
    assert done == ["shard-00000.done", "shard-00001.done"]


def test_a_slow_shard_does_not_hold_the_next_ones_back(tmp_path, monkeypatch):
    """Shard 0 ends last, yet shards 1-3 ran meanwhile (2 at a time, 4 uncommitted at most); commits stay in order."""
    engine = SlowConcurrentEngine(slow_on=("Problem 0?",))
    committed: list[str] = []
    write = storage.write_json
    monkeypatch.setattr(storage, "write_json", lambda url, data: (committed.append(url), write(url, data)))
    run(tmp_path, engine, monkeypatch)
    assert ["Problem 0?" in p for p in engine.finished[:4]] == [False, False, False, True]
    assert [url.rsplit("/", 1)[-1] for url in committed] == [f"shard-{i:05d}.done" for i in range(4)]


class Endpoint(SlowConcurrentEngine):
    """As the API engine: it tells how many requests it has in flight."""

    @property
    def in_flight(self) -> int:
        return self.inflight


def test_an_endpoints_bar_shows_its_request_rate_and_requests_in_flight(tmp_path, monkeypatch, capsys):
    run(tmp_path / "local", SlowConcurrentEngine(capacity=2), monkeypatch)
    local = capsys.readouterr().err
    assert "tok_s=" in local and "req_s=" not in local  # a local engine's bar: its token rate only
    run(tmp_path / "endpoint", Endpoint(capacity=2), monkeypatch)
    bar = capsys.readouterr().err
    assert "req_s=" in bar and "in_flight=" in bar and bar.count("\n") < 12  # one bar, no sub-bars
