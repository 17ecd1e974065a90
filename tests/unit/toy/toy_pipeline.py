"""A toy pipeline registered from tests: one stage, one output table, one card (`toy_card.md` beside it)."""

from __future__ import annotations

from pathlib import Path

from datasets import Dataset

from magpie_hf.core.pipeline import Pipeline, Table, register_pipeline
from magpie_hf.core.stage import StageConfig, stage
from magpie_hf.engines import Sampling


class ShoutConfig(StageConfig):
    """How many exclamation marks the model's reply gets."""

    marks: int = 1


@stage("toy_shout", config=ShoutConfig, inputs=("id", "problem"), outputs=("shout",))
def shout(batch: dict[str, list], cfg: ShoutConfig, model) -> dict[str, list]:
    """The model's reply to each problem, upper-cased, with `marks` exclamation marks."""
    prompts = [model.chat_prompt([{"role": "user", "content": p}]) for p in batch["problem"]]
    replies = model.generate(prompts, Sampling(max_tokens=8))
    return {"shout": [r[0].text.upper() + "!" * cfg.marks for r in replies]}


def shouted(rows: Dataset) -> Dataset:
    return rows.select_columns(["id", "domain", "problem", "shout"])


TOY = register_pipeline(
    Pipeline(
        name="toy",
        tables={"shouts": Table("shouts", shouted, tag="toy")},
        card=str(Path(__file__).with_name("toy_card.md")),
        tags=("toy",),
    )
)
