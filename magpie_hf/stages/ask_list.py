"""Ask for a list: the model lists items (e.g. the problems of a forum post); one new row per item.

Row ids become `<parent id>-<suffix><k>`; `parent` names the column that keeps
the parent's id; `keep` copies parent columns onto each new row (new name:
parent column). A parent with no item leaves one dropped row, counted as
`empty_reason`. Every listed item becomes a row unless `max_items` is set; the
items past it are counted in the run report (`items_over_limit`).

Input columns: `id`, `domain`, the `{column}` placeholders of `prompt`, the `keep` columns.
Output columns: `id`, `domain`, `<parent>`, `<column>`, the `keep` names, `filter_reason`,
and the counter `items_over_limit` (on each parent's first row).

Example:
    - stage: ask_list
      column: problem
      parent: post_id
      keep: {discussion: forum_discussions}
      prompt: "List every math problem this post poses, as \\"Problem 1: ...\\".\\n\\n{forum_post}"
"""

from __future__ import annotations

from pydantic import Field

from magpie_hf.core.stage import Kind, batch_rows, fill, placeholders, stage
from magpie_hf.stages.prompting import AskSampling, ask, parse_list

OVER_LIMIT = "items_over_limit"


class AskListConfig(AskSampling):
    """The prompt, the item column, the parent id column, the copied columns and the optional item cap."""

    prompt: str
    column: str = Field(default="problem", pattern=r"^[a-z][a-z0-9_]*$")
    parent: str = "parent_id"
    suffix: str = "p"
    keep: dict[str, str] = Field(default_factory=dict)
    max_items: int | None = Field(default=None, ge=1)  # None: every listed item
    empty_reason: str = "nothing_listed"


def outputs(cfg: AskListConfig) -> list[str]:
    return ["id", "domain", cfg.parent, cfg.column, *cfg.keep, "filter_reason", OVER_LIMIT]


@stage(
    "ask_list",
    config=AskListConfig,
    kind=Kind.EXPLODE,
    inputs=lambda c: ["id", "domain", *placeholders(c.prompt), *c.keep.values()],
    outputs=outputs,
    parent=lambda c: c.parent,
    counters=(OVER_LIMIT,),
    version="2",
)
def ask_list(batch: dict[str, list], cfg: AskListConfig, model) -> dict[str, list]:
    """One row per listed item (up to `max_items`); a parent with none leaves one dropped row."""
    rows = batch_rows(batch)
    replies = ask(model, [fill(cfg.prompt, row) for row in rows], batch["id"], cfg, cfg.column)
    out: dict[str, list] = {k: [] for k in outputs(cfg)}
    for row, reply in zip(rows, replies):
        listed = parse_list(reply)
        items = listed[: cfg.max_items]
        for k, item in enumerate(items or [None]):
            out["id"].append(f"{row['id']}-{cfg.suffix}{k}")
            out["domain"].append(row["domain"])
            out[cfg.parent].append(row["id"])
            out[cfg.column].append(item or "")
            for name, column in cfg.keep.items():
                out[name].append(row[column] or "")
            out["filter_reason"].append(None if item else cfg.empty_reason)
            out[OVER_LIMIT].append(len(listed) - len(items) if k == 0 else 0)
    return out
