"""Batched reward scoring vs a one-at-a-time loop (what the original scripts did), side by side.

Scores the same 256 (problem, response) pairs with a test-sized reward model
(the embedded model's architecture, 2 layers, random weights: no download) and
prints pairs/s of each and the ratio. The target is >= 10x on CPU.

    python bench/scoring.py [--pairs 256] [--batch-size 8]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from magpie_hf.models.presets import resolve_model
from magpie_hf.models.reward_model import RewardModelScorer, candidate_conversations

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "train" / "math_train_2k.jsonl"


def pairs(count: int) -> list[list[dict]]:
    """Real MATH training problems, each with a short worked response ending in its boxed answer."""
    if not DATA.exists():
        raise SystemExit(f"{DATA} is missing: the benchmark reads ../shared/data (see its README)")
    rows = [json.loads(line) for line in DATA.read_text().splitlines()[:count]]
    responses = [f"Let us work through it step by step. The result is \\boxed{{{r['answer']}}}." for r in rows]
    conversations, _ = candidate_conversations([r["problem"] for r in rows], [[a] for a in responses])
    return conversations


def tiny_reward_model(folder: Path) -> None:
    from transformers import AutoConfig, AutoTokenizer, LlamaForSequenceClassification

    source = resolve_model("embedded").model_path()
    config = AutoConfig.from_pretrained(source)
    config.num_hidden_layers, config.num_labels = 2, 1
    torch.manual_seed(0)
    LlamaForSequenceClassification(config).save_pretrained(folder)
    AutoTokenizer.from_pretrained(source).save_pretrained(folder)


def rate(scorer: RewardModelScorer, conversations: list[list[dict]]) -> tuple[float, list[float]]:
    start = time.perf_counter()
    scores, _ = scorer.score(conversations)
    return len(conversations) / (time.perf_counter() - start), scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    conversations = pairs(args.pairs)
    with tempfile.TemporaryDirectory() as folder:
        tiny_reward_model(Path(folder))
        batched = RewardModelScorer.load(folder, batch_size=args.batch_size, trust_remote_code=False)
        single = RewardModelScorer.load(folder, batch_size=1, trust_remote_code=False)
        rate(batched, conversations[:8]), rate(single, conversations[:8])  # warm-up
        loop_rates, batch_rates = [], []
        for _ in range(args.repeats):  # interleaved, so drift in machine load hits both sides alike
            loop_rate, loop_scores = rate(single, conversations)
            batch_rate, batch_scores = rate(batched, conversations)
            loop_rates.append(loop_rate)
            batch_rates.append(batch_rate)
    loop_rate, batch_rate = sum(loop_rates) / len(loop_rates), sum(batch_rates) / len(batch_rates)
    drift = max(abs(a - b) for a, b in zip(loop_scores, batch_scores))
    print(f"pairs={len(conversations)} batch_size={args.batch_size} torch_threads={torch.get_num_threads()}")
    print(f"one at a time : {loop_rate:8.1f} pairs/s")
    print(f"batched       : {batch_rate:8.1f} pairs/s")
    print(f"ratio         : {batch_rate / loop_rate:.1f}x  (target >= 10x); max score difference {drift:.2e}")


if __name__ == "__main__":
    main()
