"""Reward-model scoring on a small randomly initialised Llama classifier (no download)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from magpie_hf.models.reward_model import RewardModelScorer, candidate_conversations, regroup

PROBLEMS = ["What is 2+3?", "Factor x^2-1.", "Is 91 prime? Explain briefly.", "Find the derivative of sin(x)."]
CANDIDATES = [
    ["5", "2+3 = 5, so the answer is \\boxed{5}.", "6"],
    ["(x-1)(x+1)", "x^2-1 is irreducible."],
    ["No: 91 = 7 * 13.", "Yes, 91 is prime.", "91 = 7*13, so it is composite; the answer is no."],
    ["cos(x)", "The derivative of sin is cos, so \\boxed{\\cos x}. " * 3],
]


def conversations():
    return candidate_conversations(PROBLEMS, CANDIDATES)


def test_batched_scores_equal_one_by_one(tiny_reward_model):
    convs, owners = conversations()
    batched, _ = RewardModelScorer.load(str(tiny_reward_model), batch_size=4, trust_remote_code=False).score(convs)
    single, _ = RewardModelScorer.load(str(tiny_reward_model), batch_size=1, trust_remote_code=False).score(convs)
    assert batched == pytest.approx(single, abs=1e-4)
    assert len(set(round(s, 6) for s in batched)) > 1  # a real model, not a constant
    grouped = regroup(batched, owners, len(PROBLEMS))
    assert [len(g) for g in grouped] == [len(c) for c in CANDIDATES]


def test_truncation_is_reported(tiny_reward_model):
    convs, _ = conversations()
    scorer = RewardModelScorer.load(str(tiny_reward_model), max_length=40, trust_remote_code=False)
    scores, truncated = scorer.score(convs)
    assert len(scores) == len(convs)
    assert any(truncated) and not all(truncated)


@pytest.mark.integration  # two torch processes: ~12 s, so outside the fast suite
def test_two_gloo_processes_give_the_same_scores(tiny_reward_model, tmp_path):
    convs, _ = conversations()
    expected, _ = RewardModelScorer.load(str(tiny_reward_model), trust_remote_code=False).score(convs)
    data, out = tmp_path / "conversations.json", tmp_path / "scores.json"
    data.write_text(json.dumps(convs))
    worker = Path(__file__).parents[2] / "helpers" / "score_worker.py"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            "2",
            "--master_port",
            "29517",
            str(worker),
            str(tiny_reward_model),
            str(data),
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["processes"] == 2
    assert result["scores"] == pytest.approx(expected, abs=1e-4)
