"""Prepare raw forum threads: one discussion string per thread, quoted text removed, long ones cut.

As NeMo-Skills' OpenMathReasoning pipeline does before extraction: the posts
of a discussion (a list of posts, or one string) are joined into one string
(`Post 1:\\n...`), forum quote blocks (`[quote]...[/quote]`, nested, with or
without an author; a tag without its partner loses only the tag) are removed, and a discussion longer than `max_tokens`
tokens of the model's tokenizer keeps its beginning and end with the middle
cut out. Each change is counted in the run report. A preparatory stage: a
`--stages` selection of later stages runs it too (e.g. `--stages
extract_problems` on a fresh run dir).

Input columns: the post and discussion columns (`forum_post`, `forum_discussions`).
Output columns: the same two, prepared; `discussion_tokens`; and the counters
`joined`, `quotes_stripped`, `truncated` (1 per changed row).
"""

from __future__ import annotations

import re

from pydantic import Field

from magpie_hf.core.stage import StageConfig, stage
from magpie_hf.models.presets import Preset, tokenizer

QUOTE = re.compile(r"\[quote(?:=[^\]]*)?\](?:(?!\[quote).)*?\[/quote\]", re.IGNORECASE | re.DOTALL)
STRAY_TAG = re.compile(r"\[/?quote(?:=[^\]]*)?\]", re.IGNORECASE)
CUT = "\n\n[... discussion shortened ...]\n\n"


class PrepareConfig(StageConfig):
    """Which columns hold the post and the discussion, and the discussion's token budget."""

    post_column: str = "forum_post"
    discussion_column: str = "forum_discussions"
    max_tokens: int = Field(default=24000, gt=0)


def join_posts(discussion: str | list[str] | None) -> tuple[str, bool]:
    """One string for a discussion, and whether it had to be joined from separate posts."""
    if discussion is None:
        return "", False
    if isinstance(discussion, str):
        return discussion, False
    return "\n\n".join(f"Post {k}:\n{post}" for k, post in enumerate(discussion, 1)), True


def strip_quotes(text: str) -> tuple[str, bool]:
    """The text without its quote blocks, and whether any was found.

    Blocks go innermost first, so nested quotes go too; tags left without a
    partner (real threads have them) are removed, their text kept.
    """
    stripped = text
    while True:
        shorter = QUOTE.sub("", stripped)
        if shorter == stripped:
            stripped = STRAY_TAG.sub("", stripped)
            return stripped, stripped != text
        stripped = shorter


def shorten(ids: list[int], budget: int) -> tuple[list[int], list[int]] | None:
    """The head and tail token ids that fit `budget`, or None when nothing has to go."""
    if len(ids) <= budget:
        return None
    head = budget // 2
    return ids[:head], ids[len(ids) - (budget - head) :]


@stage(
    "prepare_threads",
    config=PrepareConfig,
    inputs=lambda c: [c.post_column, c.discussion_column],
    outputs=lambda c: [c.post_column, c.discussion_column, "discussion_tokens", "joined", "quotes_stripped", "truncated"],
    counters=("joined", "quotes_stripped", "truncated"),
    prepares=True,
)
def prepare_threads(batch: dict[str, list], cfg: PrepareConfig, model: Preset) -> dict[str, list]:
    """Joined, quote-free discussions within the token budget, with what was changed per row."""
    tok = tokenizer(model)
    out: dict[str, list] = {k: [] for k in ("discussion", "discussion_tokens", "joined", "quotes_stripped", "truncated")}
    for raw in batch[cfg.discussion_column]:
        text, joined = join_posts(raw)
        text, quoted = strip_quotes(text)
        ids = tok.encode(text, add_special_tokens=False)
        cut = shorten(ids, cfg.max_tokens)
        if cut is not None:
            text = tok.decode(cut[0]) + CUT + tok.decode(cut[1])
        out["discussion"].append(text)
        out["discussion_tokens"].append(min(len(ids), cfg.max_tokens))
        out["joined"].append(int(joined))
        out["quotes_stripped"].append(int(quoted))
        out["truncated"].append(int(cut is not None))
    posts = [strip_quotes(p or "")[0] for p in batch[cfg.post_column]]
    return {
        cfg.post_column: posts,
        cfg.discussion_column: out.pop("discussion"),
        **out,
    }
