"""Postprocess TIR generations: mark the solutions not fit for SFT, and normalise their code tags.

As NeMo-Skills' `postprocess_tir_generations` (with `remove_matplotlib`): a
solution is not kept when no code of it ran (`no_code`), when a block has no
output after it (`incomplete_code`: the last block once the executions ran out,
or a cut-off one), when it boxes an answer before its first block
(`boxed_before_code`), or when its code plots (`matplotlib`). The kept ones
get `new_code_begin` / `new_code_end` in place of the generation's code tags
(the output blocks are left as they are). Nothing is dropped here: the SFT stage
(`correct_solutions` with `code_executions: true`) skips the marked solutions;
the run report counts each reason as `tir_<reason>`, and `tir_kept`.

Input columns: `id`, `<column>` and `<column>_code_executions` (the tir stage's).
Output columns: `<column>` (tags normalised), `<column>_tir_filter` (per solution a reason, or None when kept).

Example:
    - stage: postprocess_tir
      column: solver
      new_code_begin: "```python\\n"
      new_code_end: "```\\n"
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pydantic import Field

from magpie_hf.core.stage import StageConfig, stage

if TYPE_CHECKING:
    from magpie_hf.run.context import BoundModel

PLOTTING = re.compile(r"\bmatplotlib\b|\bplt\.")


class PostprocessTirConfig(StageConfig):
    """The tir column, its code tags (NeMo-Skills' postprocess takes them with their newline), the tags to write,
    and the plotting filter."""

    column: str = "solver"
    code_begin: str = Field(default="<tool_call>\n", min_length=1)
    code_end: str = Field(default="</tool_call>\n", min_length=1)
    code_output_begin: str = Field(default="```output", min_length=1)
    code_output_end: str = Field(default="```", min_length=1)
    new_code_begin: str | None = None  # None: keep the generation's tags
    new_code_end: str | None = None
    remove_matplotlib: bool = True


def executions_complete(text: str, cfg: PostprocessTirConfig) -> bool:
    """Every code block is closed and followed by its output block (NeMo-Skills' `validate_code_execution`)."""
    begin, end = cfg.code_begin.strip(), cfg.code_end.strip()
    lines, i = text.split("\n"), 0
    while i < len(lines):
        if lines[i] != begin:
            i += 1
            continue
        try:
            closed = lines.index(end, i + 1)
            if lines[closed + 1] != cfg.code_output_begin.strip():
                return False
            i = lines.index(cfg.code_output_end.strip(), closed + 2) + 1
        except (ValueError, IndexError):
            return False
    return True


def filter_reason(text: str, executions: int, cfg: PostprocessTirConfig) -> str | None:
    """Why a TIR solution is not fit for SFT, or None."""
    first_block = text.find(cfg.code_begin.strip())
    if not executions or first_block < 0:
        return "no_code"
    if not executions_complete(text, cfg):
        return "incomplete_code"
    if -1 < text.find("\\boxed{") < first_block:
        return "boxed_before_code"
    if cfg.remove_matplotlib and PLOTTING.search(text):
        return "matplotlib"
    return None


def normalised(text: str, cfg: PostprocessTirConfig) -> str:
    """`text` with each code block between the new tags (NeMo-Skills' `replace_code_tags`); unchanged without them."""
    if cfg.new_code_begin is None or cfg.new_code_end is None:
        return text
    block = re.compile(f"{re.escape(cfg.code_begin)}(.*?)\n{re.escape(cfg.code_end)}", re.DOTALL)
    return block.sub(lambda m: f"{cfg.new_code_begin}{m.group(1)}\n{cfg.new_code_end}", text)


@stage(
    "postprocess_tir",
    config=PostprocessTirConfig,
    inputs=lambda c: ["id", c.column, f"{c.column}_code_executions"],
    outputs=lambda c: [c.column, f"{c.column}_tir_filter"],
    uses_model=False,
)
def postprocess_tir(batch: dict[str, list], cfg: PostprocessTirConfig, model: BoundModel) -> dict[str, list]:
    """Per solution its reason not to keep it (None: kept) and, for the kept ones, its normalised text."""
    texts, reasons = [], []
    for solutions, executions in zip(batch[cfg.column], batch[f"{cfg.column}_code_executions"]):
        row_reasons = [filter_reason(text, n, cfg) for text, n in zip(solutions, executions)]
        texts.append([text if why else normalised(text, cfg) for text, why in zip(solutions, row_reasons)])
        reasons.append(row_reasons)
    every = [why or "kept" for row in reasons for why in row]
    model.usage.counters.update({f"tir_{why}": every.count(why) for why in set(every)})
    return {cfg.column: texts, f"{cfg.column}_tir_filter": reasons}
