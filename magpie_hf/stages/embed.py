"""Embed: a sentence embedding per row (MiniLM, unit length), sharded and checkpointed like any stage.

A crash re-embeds only the unfinished shards; the dedup stage then works on
the stored vectors.

Input columns: `column` (default `problem`).
Output columns: `embedding` (list of float32).

Example:
    - stage: embed
      column: problem
      dtype: auto       # bfloat16 where the CPU or GPU has it natively, else float32
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from magpie_hf.core.stage import StageConfig, stage
from magpie_hf.models.embeddings import MODEL_NAME, EmbedDtype

if TYPE_CHECKING:
    from magpie_hf.run.context import BoundModel


class EmbedConfig(StageConfig):
    """Which text column to embed, how much of each text, and the dtype the encoder multiplies in."""

    column: str = "problem"
    max_length: int = Field(default=128, gt=0)
    dtype: EmbedDtype = "auto"


@stage(
    "embed",
    config=EmbedConfig,
    inputs=lambda c: [c.column],
    outputs=("embedding",),
    uses_model=False,
    loads=lambda c: [("embedder", MODEL_NAME)],
)
def embed(batch: dict[str, list], cfg: EmbedConfig, model: BoundModel) -> dict[str, list]:
    """One unit vector per row (no rows load no model)."""
    if not batch[cfg.column]:
        return {"embedding": []}
    return {"embedding": list(model.embedder().embed(batch[cfg.column], max_length=cfg.max_length, dtype=cfg.dtype))}
