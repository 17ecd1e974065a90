"""Flag problems that are (rewordings of) benchmark problems.

For each problem: the top-k most similar benchmark problems by MiniLM cosine
similarity, their word n-gram overlap, then "are these the same problem?" to
the LLM for candidates above `min_similarity`. Exact matches, near-verbatim
embeddings (`flag_similarity`) and heavy n-gram overlap (`flag_ngram`) are
flagged without asking. The LLM's Yes/No comes from the first token's logprobs
when the server gives them, else from the text, counted by source in the run
report (`verdicts_logprobs`, `verdicts_text`, `verdicts_undecided`). MiniLM
runs in float32 here by default (`dtype`), so a similarity near a threshold
comes out the same on every machine.

Input columns: `id`, `problem`.
Output columns: `contaminated`, `contamination_decided_by` (exact / similarity /
ngram / llm / none), `closest_benchmark_problem`, `closest_benchmark`,
`closest_similarity`, `ngram_overlap`.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from magpie_hf.core.stage import fill, stage
from magpie_hf.models.cache import cache_dir
from magpie_hf.models.embeddings import MODEL_NAME as EMBEDDER
from magpie_hf.models.embeddings import Embedder, EmbedDtype, resolve_dtype
from magpie_hf.stages.prompting import AskSampling, ask_yes_no

if TYPE_CHECKING:
    from magpie_hf.run.context import BoundModel

SAME_PROBLEM = (
    "Are the following two math problems the same problem, possibly reworded (same question, same numbers)? "
    "Answer Yes or No.\n\nProblem A:\n{problem}\n\nProblem B:\n{benchmark}"
)


class Benchmark(BaseModel):
    """A benchmark file (JSON lines) and the column holding its problems."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str
    column: str = "problem"


class DecontaminateConfig(AskSampling):
    """Benchmarks, retrieval depth, the thresholds that flag without asking, and the judge prompt."""

    benchmarks: list[Benchmark] = Field(min_length=1)
    top_k: int = Field(default=5, ge=1)
    min_similarity: float = Field(default=0.6, ge=-1, le=2)
    flag_similarity: float = Field(default=0.85, ge=-1, le=2)
    ngram: int = Field(default=5, ge=1)
    flag_ngram: float = Field(default=0.6, ge=0, le=2)  # above 1: never flag by n-grams
    judge_prompt: str = SAME_PROBLEM
    max_tokens: int = Field(default=8, gt=0)
    dtype: EmbedDtype = "float32"


def normalise(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    words = normalise(text).split()
    return {tuple(words[i : i + n]) for i in range(max(len(words) - n + 1, 0))}


def ngram_overlap(problem: str, other: str, n: int) -> float:
    """Share of the problem's word n-grams that also occur in `other`."""
    mine = ngrams(problem, n)
    return len(mine & ngrams(other, n)) / len(mine) if mine else 0.0


def benchmark_index(
    benchmarks: tuple[Benchmark, ...], dtype: EmbedDtype, embedder: Embedder
) -> tuple[list[str], list[str], object]:
    """Texts, their benchmark names and a nearest-neighbour index of their unit embeddings (in `dtype`).

    The embeddings are cached on disk by content and dtype, so only the first batch embeds them.
    """
    import numpy as np  # noqa: PLC0415 - numpy and faiss when the stage runs, not when it is registered
    from datasets import load_dataset

    from magpie_hf.models.vector_index import build_index  # noqa: PLC0415

    texts, names = [], []
    for bench in benchmarks:
        if not Path(bench.path).is_file():
            raise FileNotFoundError(f"benchmarks: file '{bench.path}' not found (see ../shared/data/README.md)")
        rows = load_dataset("json", data_files=bench.path, split="train")
        texts += [str(t) for t in rows[bench.column]]
        names += [Path(bench.path).stem] * len(rows)
    key = hashlib.sha256("\x00".join(texts).encode()).hexdigest()[:20]
    cached = cache_dir() / "embeddings" / f"minilm-{resolve_dtype(dtype)}-{key}.npy"
    if not cached.exists():
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(f".tmp{os.getpid()}.npy")
        np.save(tmp, embedder.embed(texts, dtype=dtype))
        os.replace(tmp, cached)
    return texts, names, build_index(np.load(cached))


OUTPUTS = (
    "contaminated",
    "contamination_decided_by",
    "closest_benchmark_problem",
    "closest_benchmark",
    "closest_similarity",
    "ngram_overlap",
)


@stage(
    "decontaminate",
    config=DecontaminateConfig,
    inputs=("id", "problem"),
    outputs=OUTPUTS,
    version="2",
    loads=lambda c: [("embedder", EMBEDDER)],
)
def decontaminate(batch: dict[str, list], cfg: DecontaminateConfig, model: BoundModel) -> dict[str, list]:
    """`contaminated`, the closest benchmark problem and how the verdict was reached."""
    problems = batch["problem"]
    if not problems:  # no rows load no model
        return {k: [] for k in OUTPUTS}
    embedder = model.embedder()
    from magpie_hf.models.vector_index import search  # noqa: PLC0415 - faiss when the stage runs

    texts, names, index = benchmark_index(tuple(cfg.benchmarks), cfg.dtype, embedder)
    sims, ids = search(index, embedder.embed(problems, dtype=cfg.dtype), cfg.top_k)
    similarity = [dict(zip(map(int, i), map(float, s))) for s, i in zip(sims, ids)]  # row -> {benchmark: cosine}
    exact = {normalise(t): i for i, t in enumerate(texts)}
    out: dict[str, list] = {k: [] for k in OUTPUTS}
    questions: list[tuple[int, int]] = []
    for row, problem in enumerate(problems):
        top = [int(j) for j in ids[row] if j >= 0]
        overlaps = {int(j): ngram_overlap(problem, texts[j], cfg.ngram) for j in top}
        best = int(top[0])
        decided = None
        if normalise(problem) in exact:
            decided, best = "exact", exact[normalise(problem)]
        elif similarity[row][best] >= cfg.flag_similarity:
            decided = "similarity"
        elif max(overlaps.values()) >= cfg.flag_ngram:
            decided, best = "ngram", max(overlaps, key=overlaps.get)
        else:
            questions += [(row, j) for j in top if similarity[row][j] >= cfg.min_similarity]
        out["contaminated"].append(decided is not None)
        out["contamination_decided_by"].append(decided or "none")
        out["closest_benchmark_problem"].append(texts[best])
        out["closest_benchmark"].append(names[best])
        out["closest_similarity"].append(similarity[row].get(best, 1.0))  # only an exact match can miss the top k
        out["ngram_overlap"].append(max(overlaps.values()))
    prompts = [fill(cfg.judge_prompt, {"problem": problems[r], "benchmark": texts[j]}) for r, j in questions]
    answers = ask_yes_no(model, prompts, [f"{batch['id'][r]}:{j}" for r, j in questions], cfg, "same")
    for (row, j), (_, yes) in zip(questions, answers):
        if yes and not out["contaminated"][row]:
            out["contaminated"][row] = True
            out["contamination_decided_by"][row] = "llm"
            out["closest_benchmark_problem"][row], out["closest_benchmark"][row] = texts[j], names[j]
            out["closest_similarity"][row] = similarity[row][j]
    return out

