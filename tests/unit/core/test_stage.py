"""Stage declarations: kinds, columns from the config, the registry."""

from __future__ import annotations

import pytest

from magpie_hf.core.pipeline import discover
from magpie_hf.core.stage import STAGES, Kind, StageConfig, fill, placeholders, stage


def test_every_registered_stage_declares_its_columns_and_kind():
    discover()
    assert {"instructions", "clean", "sample", "grade", "ask", "ask_list", "classify", "critique"} <= set(STAGES)
    for name, declared in STAGES.items():
        assert declared.inputs and declared.outputs, name
        assert isinstance(declared.kind, Kind)


def test_global_and_explode_kinds_shape_the_runner():
    discover()
    assert not STAGES["dedup"].sharded and STAGES["clean"].sharded and STAGES["sample"].sharded
    assert STAGES["critique"].explodes and not STAGES["grade"].explodes


def test_a_name_registered_twice_is_an_error():
    class Cfg(StageConfig):
        pass

    @stage("unit_twice", config=Cfg, inputs=("id",), outputs=("x",), uses_model=False)
    def first(batch, cfg, model):
        return {"x": batch["id"]}

    with pytest.raises(ValueError, match="registered twice"):

        @stage("unit_twice", config=Cfg, inputs=("id",), outputs=("x",), uses_model=False)
        def second(batch, cfg, model):
            return {"x": batch["id"]}


def test_placeholders_and_fill_leave_other_braces_alone():
    template = "Solve {problem} in \\boxed{} given {hint} and {problem}"
    assert placeholders(template) == ["problem", "hint"]
    assert fill(template, {"problem": "x+1=2", "hint": "subtract"}) == "Solve x+1=2 in \\boxed{} given subtract and x+1=2"
