"""Sentence embeddings with the embedded all-MiniLM-L6-v2 (mean pooling, unit norm)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from magpie_hf.models.carriers import minilm_path


@lru_cache(maxsize=1)
def _model():
    from transformers import AutoModel, AutoTokenizer

    path = minilm_path()
    return AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()


def embed(texts: list[str], batch_size: int = 64, max_length: int = 128) -> np.ndarray:
    """Unit-length float32 embeddings, one row per text (the first `max_length` tokens of each)."""
    import torch

    tokenizer, model = _model()
    chunks = []
    # Sorted by length, so each batch pads little; the original order is restored at the end.
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    texts = [texts[i] for i in order]
    for start in range(0, len(texts), batch_size):
        enc = tokenizer(
            texts[start : start + batch_size], padding=True, truncation=True, max_length=max_length, return_tensors="pt"
        )
        with torch.inference_mode():
            hidden = model(**enc).last_hidden_state
        mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        chunks.append(torch.nn.functional.normalize(pooled, dim=-1).numpy())
    if not chunks:
        return np.zeros((0, 384), dtype=np.float32)
    vectors = np.empty((len(order), chunks[0].shape[1]), dtype=np.float32)
    vectors[order] = np.concatenate(chunks)
    return vectors
