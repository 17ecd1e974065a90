"""Near-duplicate removal at scale: the embed and dedup stages through the runner on synthetic problems.

Each size runs in a fresh process (so its peak RSS is its own): word problems
composed from independent random parts, 10% of them planted rewordings of an
earlier problem (synonyms, punctuation, a changed first word). The embed stage
(MiniLM, sharded, checkpointed to Arrow) and the dedup stage (faiss: exact
below 20,000 rows, IVF above) run as a recipe runs them. Printed per size:
rows/s, peak RSS, recall of the planted rewordings, false drops (original
problems dropped), the dedup step's time over the embedding time, and MiniLM
alone (`Embedder.embed()` on up to 10,000 of the same texts, no runner) in float32 and
in bfloat16, each a fresh process just before and just after the path, averaged
(so a machine whose speed drifts during a long run does not tilt the ratio): the
whole path's throughput over MiniLM alone in the dtype the path used, and
bfloat16 over float32. Last,
MiniLM alone on the same problems cut or joined to other lengths: embedding
costs about linearly in the tokens, so this gives the rate for your problems.

    python bench/dedup.py [--sizes 10000 100000] [--shard-size 5000] [--dtype auto] [--short] [--no-lengths]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid

from magpie_hf.models.embeddings import DTYPES

NAMES = (
    "Ava Ben Chloe Diego Emma Farid Grace Hiro Isla Jonas Kira Liam Maya Noor Omar Priya Quinn Rosa Sami Tara".split()
)
NAMES += (
    "Uma Victor Wen Ximena Yusuf Zoe Arjun Bea Carlos Dana Eli Fatima Gus Hana Ivan Jade Kofi Lena Mateo Nia".split()
)
THINGS = "marbles stickers apples books coins stamps pencils shells cards beads cookies tickets plants candles".split()
THINGS += "bottles cupcakes postcards buttons ribbons lanterns kites puzzles seashells crayons".split()
PLACES = "market library fair school bakery museum harbor garden station workshop festival orchard cafe zoo".split()
ADJECTIVES = "red small old shiny wooden striped golden tiny blue heavy round paper glass silver green".split()
QUESTIONS = [
    "How many {thing} does {a} have now?",
    "What fraction of the {thing} did {b} receive?",
    "How many more {thing} does {a} have than {b}?",
    "If the {thing} are shared equally among {k} friends, how many does each friend get?",
    "What is the total cost of the {thing} in dollars?",
    "What percent of the original {thing} are left?",
]
STORIES = [
    "{a} has {x} {adj} {thing} and buys {y} more at the {place}. {b} then takes {z} of them.",
    "At the {place}, {a} sorts {x} {adj} {thing} into boxes of {y}, and {b} adds {z} loose ones.",
    "{a} and {b} collect {adj} {thing} at the {place}: {a} finds {x}, {b} finds {y}, and they lose {z}.",
    "Each {adj} {thing} at the {place} costs {y} dollars. {a} buys {x} of them and {b} returns {z}.",
    "{a} starts the week with {x} {adj} {thing}, gets {y} each day at the {place} for {k} days, and gives {b} {z}.",
]
SHORT_PROBLEMS = [  # --short: about 22 tokens each instead of about 37
    "{a} buys {x} {adj} {thing} at the {place}; {b} takes {z}. How many are left?",
    "{a} finds {x} {adj} {thing} at the {place} and {b} finds {y}. How many in all?",
    "{a} starts with {x} {adj} {thing} at the {place} and gives {b} {z}. How many now?",
    "Each {adj} {thing} at the {place} costs {y} dollars. What do {x} cost {a} and {b}?",
]
SYNONYMS = [
    ("buys", "purchases"),
    ("takes", "removes"),
    ("finds", "discovers"),
    ("collect", "gather"),
    ("starts", "begins"),
    ("returns", "gives back"),
    ("How many", "What number of"),
    ("costs", "is priced at"),
]


RAW_SAMPLE = 10_000  # texts embedded by MiniLM alone, for the runner's overhead


def problems(
    n: int, planted_share: float = 0.1, seed: int = 0, short: bool = False
) -> tuple[list[str], dict[int, int]]:
    """`n` problems (one-sentence ones if `short`), and for each planted rewording the index of the problem it rewords."""
    r = random.Random(seed)
    texts: list[str] = []
    source: dict[int, int] = {}
    for i in range(n):
        if i > 10 and r.random() < planted_share:
            original = r.randrange(i)
            while original in source:  # reword an original problem, not a rewording
                original = r.randrange(i)
            text = texts[original]
            for old, new in r.sample(SYNONYMS, len(SYNONYMS)):
                if old in text:
                    text = text.replace(old, new, 1)
                    break
            text = text.rstrip("?") + (" ?" if r.random() < 0.5 else "?!")
            texts.append(text)
            source[i] = original
            continue
        a, b = r.sample(NAMES, 2)
        fields = dict(
            a=a,
            b=b,
            thing=r.choice(THINGS),
            place=r.choice(PLACES),
            adj=r.choice(ADJECTIVES),
            x=r.randint(3, 999),
            y=r.randint(2, 99),
            z=r.randint(1, 50),
            k=r.randint(2, 12),
        )
        if short:
            texts.append(r.choice(SHORT_PROBLEMS).format(**fields))
        else:
            texts.append(f"{r.choice(STORIES).format(**fields)} {r.choice(QUESTIONS).format(**fields)}")
    return texts, source


def one(size: int, shard_size: int, dtype: str, short: bool) -> dict:
    """Embed and dedup `size` problems through the runner; the figures as a dict."""
    from datasets import Dataset

    from magpie_hf.core.recipe import Recipe
    from magpie_hf.models.embeddings import resolve_dtype
    from magpie_hf.models.presets import resolve_model
    from magpie_hf.run.runner import run_stages

    texts, source = problems(size, short=short)
    data = Dataset.from_dict({"id": [f"p{i:07d}" for i in range(size)], "domain": ["bench"] * size, "problem": texts})
    recipe = Recipe(
        name="bench", domain="bench", count=size, stages=[{"stage": "embed", "dtype": dtype}, {"stage": "dedup"}]
    )
    model = resolve_model("embedded", "vllm")
    with tempfile.TemporaryDirectory() as run_dir:
        start = time.perf_counter()
        result = run_stages(data, uuid.uuid4().hex, recipe.stage_entries(), model, run_dir, shard_size)
        seconds = time.perf_counter() - start
        rows = result.all_rows["dedup"]
        reasons, duplicate_of = rows["filter_reason"], rows["duplicate_of"]
    index = {f"p{i:07d}": i for i in range(size)}
    order = [index[i] for i in rows["id"]]
    dropped = {order[j]: index.get(duplicate_of[j]) for j in range(len(order)) if reasons[j] is not None}
    found = sum(1 for i, original in source.items() if i in dropped and dropped[i] == original)
    false = sum(1 for i in dropped if i not in source)
    embed, dedup = (report.seconds for report in result.reports)
    return {
        "size": size,
        "seconds": seconds,
        "rows_s": size / seconds,
        "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "recall": found / max(len(source), 1),
        "false_drops": false / (size - len(source)),
        "embed_s": embed,
        "dedup_s": dedup,
        "dtype": resolve_dtype(dtype),
    }


def minilm_alone(texts: list[str]) -> dict:
    """MiniLM alone (`Embedder.embed()`, no runner) on `texts`: rows/s in float32 and, where the CPU
    computes it natively, in bfloat16 (emulated it is 5-10x slower and no run uses it), and mean tokens."""
    from magpie_hf.models.embeddings import Embedder, resolve_dtype

    embedder = Embedder.load()
    figure = {"tokens": sum(map(len, embedder.tokenizer(texts)["input_ids"])) / len(texts), "bfloat16": None}
    for dtype in sorted({"float32", resolve_dtype("auto")}):
        start = time.perf_counter()
        embedder.embed(texts, dtype=dtype)
        figure[dtype] = len(texts) / (time.perf_counter() - start)
    return figure


def by_length(words: tuple[int, ...] = (8, 16, 32, 64), count: int = 3000) -> list[dict]:
    """MiniLM alone on `count` problems cut or joined to each word count."""
    pool = " ".join(problems(count * 3)[0]).split()
    return [{"words": w, **minilm_alone([" ".join(pool[i * w : (i + 1) * w]) for i in range(count)])} for w in words]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--shard-size", type=int, default=5000)
    parser.add_argument("--dtype", default="auto", choices=DTYPES, help="the embed stage's")
    parser.add_argument("--short", action="store_true", help="one-sentence problems (~22 tokens, not ~37)")
    parser.add_argument("--no-lengths", action="store_true", help="skip MiniLM alone at other problem lengths")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # the child process for one size
    parser.add_argument("--lengths", action="store_true", help=argparse.SUPPRESS)  # the child for by_length
    parser.add_argument("--alone", type=int, help=argparse.SUPPRESS)  # the child for MiniLM alone on one size's texts
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.shard_size, args.dtype, args.short)))
        return
    if args.alone:
        print(json.dumps(minilm_alone(problems(args.alone, short=args.short)[0][:RAW_SAMPLE])))
        return
    if args.lengths:
        print(json.dumps(by_length()))
        return
    print(f"{platform.machine()}, {os.cpu_count()} cores; embed + dedup stages, 10% planted rewordings")
    print(
        f"{'problems':>9} {'tokens':>6} {'seconds':>8} {'rows/s':>7} {'peak RSS':>9} {'recall':>7} {'false drops':>11} "
        f"{'embed s':>8} {'dedup s':>8} {'dedup/embed':>11} {'dtype':>8} {'MiniLM f32':>10} {'MiniLM bf16':>11} "
        f"{'bf16/f32':>8} {'path/MiniLM':>11}"
    )
    measured = []
    for size in args.sizes:
        short = ["--short"] * args.short
        before = child("--alone", str(size), *short)
        r = child("--one", str(size), "--shard-size", str(args.shard_size), "--dtype", args.dtype, *short)
        after = child("--alone", str(size), *short)
        raw = {key: None if before[key] is None else (before[key] + after[key]) / 2 for key in before}
        r["tokens"] = raw["tokens"]
        measured.append(r)
        print(
            f"{size:>9,} {r['tokens']:>6.1f} {r['seconds']:>8.1f} {r['rows_s']:>7.0f} {r['peak_rss_gib']:>7.2f} G "
            f"{r['recall']:>7.1%} {r['false_drops']:>11.2%} {r['embed_s']:>8.1f} {r['dedup_s']:>8.2f} "
            f"{r['dedup_s'] / r['embed_s']:>11.1%} {r['dtype']:>8} {raw['float32']:>10.0f} {bf16(raw)} "
            f"{r['rows_s'] / raw[r['dtype']]:>11.2f}"
        )
        drift = f"{before[r['dtype']]:.1f} rows/s before the path, {after[r['dtype']]:.1f} after"
        print(f"{'':>9} MiniLM alone in {r['dtype']}: {drift}")
    if len(measured) >= 2:  # seconds and RSS grow linearly in the rows: a line through the two largest runs
        small, large = measured[-2], measured[-1]
        at = 1_000_000

        def line(key: str) -> float:
            slope = (large[key] - small[key]) / (large["size"] - small["size"])
            return large[key] + slope * (at - large["size"])

        print(
            f"projected {at:,}: {line('seconds'):.0f} s, peak RSS {line('peak_rss_gib'):.1f} GiB "
            f"(a line through the {small['size']:,} and {large['size']:,} runs)"
        )

    if not args.no_lengths:
        print(f"{'words':>9} {'tokens':>8} {'MiniLM f32':>10} {'MiniLM bf16':>11} {'bf16/f32':>8}   (MiniLM alone)")
        for f in child("--lengths"):
            print(f"{f['words']:>9} {f['tokens']:>8.1f} {f['float32']:>10.0f} {bf16(f)}")


def bf16(figure: dict) -> str:
    """The bfloat16 rate and bf16/f32 columns; dashes on a CPU without native bfloat16."""
    if figure["bfloat16"] is None:
        return f"{'-':>11} {'-':>8}"
    return f"{figure['bfloat16']:>11.0f} {figure['bfloat16'] / figure['float32']:>8.2f}"


def child(*args: str):
    """Run this script in a fresh process with `args`; what its last line of JSON says."""
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=True).stdout
    return json.loads(out.splitlines()[-1])


if __name__ == "__main__":
    main()
