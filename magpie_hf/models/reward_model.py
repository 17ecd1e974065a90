"""Reward-model scoring: batched, length-sorted, data-parallel through accelerate.

A sequence-classification reward model (production default
RLHFlow/ArmoRM-Llama3-8B-v0.1, which needs trust_remote_code) scores each
(problem, solution) conversation rendered with the reward model's own chat
template. ArmoRM returns `.score`; plain classifiers return `logits[:, 0]`.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass

DEFAULT_REWARD_MODEL = "RLHFlow/ArmoRM-Llama3-8B-v0.1"


@dataclass
class RewardModelScorer:
    """Scores chat conversations with a sequence-classification reward model.

    Attributes:
        model: a loaded `AutoModelForSequenceClassification`.
        tokenizer: its tokenizer (with the reward model's chat template).
        max_length: longer conversations are scored on their first `max_length` tokens (and reported by `score`).
        batch_size: conversations per forward pass (sorted by length to limit padding).
    """

    model: object
    tokenizer: object
    max_length: int = 4096
    batch_size: int = 8

    @classmethod
    def load(
        cls, name: str, max_length: int = 4096, batch_size: int = 8, trust_remote_code: bool = True
    ) -> "RewardModelScorer":
        """Load from a Hub id or folder: bf16 on GPU, float32 on CPU."""
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        device = process_state().device
        dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
        tokenizer = AutoTokenizer.from_pretrained(name, trust_remote_code=trust_remote_code)
        model = AutoModelForSequenceClassification.from_pretrained(
            name, dtype=dtype, trust_remote_code=trust_remote_code
        ).to(device)
        return cls(model=model.eval(), tokenizer=tokenizer, max_length=max_length, batch_size=batch_size)

    def close(self) -> None:
        """Free the model's memory (a run releases its scorer before another model takes the device)."""
        import torch

        on_gpu = next(self.model.parameters()).device.type == "cuda"
        del self.model
        gc.collect()
        if on_gpu:
            torch.cuda.empty_cache()

    def score(self, conversations: list[list[dict[str, str]]]) -> tuple[list[float], list[bool]]:
        """One score per conversation, in input order, and whether each was truncated."""
        import torch

        tok = self.tokenizer
        if tok.pad_token_id is None:
            tok.pad_token = tok.eos_token
        self.model.config.pad_token_id = tok.pad_token_id
        ids = [list(tok.apply_chat_template(c, tokenize=True, return_dict=False)) for c in conversations]
        truncated = [len(tokens) > self.max_length for tokens in ids]
        ids = [tokens[: self.max_length] for tokens in ids]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        scores = [0.0] * len(ids)
        device = next(self.model.parameters()).device
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            # Right padding: the classifier reads the last non-pad token, and real
            # tokens see exactly the same context as when scored alone.
            enc = tok.pad({"input_ids": [ids[i] for i in chunk]}, padding_side="right", return_tensors="pt")
            with torch.inference_mode():
                out = self.model(**{k: v.to(device) for k, v in enc.items()})
            values = out.score if getattr(out, "score", None) is not None else out.logits[:, 0]
            for i, value in zip(chunk, values.float().reshape(len(chunk), -1)[:, 0].tolist()):
                scores[i] = value
        return scores, truncated


def process_state():
    """accelerate's process state; on machines without CUDA, CPU processes talk over gloo."""
    import torch
    from accelerate import PartialState

    return PartialState(cpu=not torch.cuda.is_available())


def candidate_conversations(problems: list[str], candidates: list[list[str]]) -> tuple[list[list[dict]], list[int]]:
    """Every (problem, candidate) pair as a chat, flattened, with the row each came from."""
    conversations, owners = [], []
    for row, (problem, answers) in enumerate(zip(problems, candidates)):
        for answer in answers:
            conversations.append([{"role": "user", "content": problem}, {"role": "assistant", "content": answer}])
            owners.append(row)
    return conversations, owners


def regroup(values: list[float], owners: list[int], rows: int) -> list[list[float]]:
    """Undo `candidate_conversations`' flattening: a list of scores per row."""
    grouped: list[list[float]] = [[] for _ in range(rows)]
    for row, value in zip(owners, values):
        grouped[row].append(value)
    return grouped


def score_distributed(scorer: RewardModelScorer, conversations: list[list[dict]]) -> tuple[list[float], list[bool]]:
    """Score across all accelerate processes; every process gets the full, ordered result.

    Each process takes a contiguous slice (`split_between_processes`), the
    slices are gathered with `gather_object`; with one process this is `score`.
    """
    from accelerate.utils import gather_object

    state = process_state()
    if state.num_processes == 1:
        return scorer.score(conversations)
    indexed = list(enumerate(conversations))
    with state.split_between_processes(indexed) as part:
        scores, truncated = scorer.score([c for _, c in part])
        local = list(zip([i for i, _ in part], scores, truncated))
    gathered = sorted(gather_object(local))
    return [s for _, s, _ in gathered], [t for _, _, t in gathered]
