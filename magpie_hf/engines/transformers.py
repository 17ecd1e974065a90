"""Plain transformers `generate` backend: the fallback, and a reference in tests.

Seeds apply per batch here (one generator for the whole padded batch), not per
request as in vLLM, so the two engines agree in behaviour, not token for token.
"""

from __future__ import annotations

import gc
from dataclasses import replace
from itertools import groupby
from typing import Sequence

from magpie_hf.engines.base import Completion, EngineInfo, Prompt, Sampling, Usage, per_prompt


class TransformersEngine:
    """Batched, left-padded `generate` with real stop strings and eos handling."""

    def __init__(self, model: str, revision: str | None, batch_size: int = 16):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(model, revision=revision, padding_side="left")
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = AutoModelForCausalLM.from_pretrained(model, revision=revision, dtype=torch.bfloat16)
        self.model.eval()
        self.batch_size = batch_size
        self.info = EngineInfo(backend="transformers", model=model, revision=revision)

    def close(self) -> None:
        """Free the model's memory."""
        del self.model
        gc.collect()

    def generate(
        self, prompts: Sequence[Prompt], sampling: Sampling | Sequence[Sampling], usage: Usage | None = None
    ) -> list[list[Completion]]:
        params = per_prompt(sampling, len(prompts))
        ids = [p if isinstance(p, list) else self.tokenizer.encode(p, add_special_tokens=False) for p in prompts]
        results: list[list[Completion]] = [[] for _ in prompts]
        # Requests that differ only by seed share a batch; order is restored by index.
        order = sorted(range(len(prompts)), key=lambda i: _batch_key(params[i]))
        for _, group in groupby(order, key=lambda i: _batch_key(params[i])):
            group = list(group)
            for start in range(0, len(group), self.batch_size):
                chunk = group[start : start + self.batch_size]
                outs = self._generate_batch([ids[i] for i in chunk], params[chunk[0]])
                for i, completions in zip(chunk, outs):
                    results[i] = completions
        return results

    def _generate_batch(self, ids: list[list[int]], s: Sampling) -> list[list[Completion]]:
        import torch

        if s.seed is not None:
            torch.manual_seed(s.seed)
        enc = self.tokenizer.pad({"input_ids": ids}, return_tensors="pt")
        eos = {self.tokenizer.eos_token_id, *s.stop_token_ids}
        sample = s.temperature > 0
        with torch.inference_mode():
            out = self.model.generate(
                **enc,
                do_sample=sample,
                temperature=s.temperature if sample else None,
                top_p=s.top_p if sample else None,
                max_new_tokens=s.max_tokens,
                num_return_sequences=s.n,
                eos_token_id=sorted(eos),
                pad_token_id=self.tokenizer.pad_token_id,
                stop_strings=list(s.stop) or None,
                tokenizer=self.tokenizer,
                return_dict_in_generate=True,
                output_scores=s.logprobs > 0,
            )
        new = out.sequences[:, enc["input_ids"].shape[1] :].tolist()
        completions = [self._completion(tokens, eos, s) for tokens in new]
        if s.logprobs:
            first = torch.log_softmax(out.scores[0].float(), dim=-1)
            top = first.topk(s.logprobs)
            asked = torch.tensor(s.logprob_token_ids, dtype=torch.long)
            completions = [
                replace(
                    c,
                    first_token_logprobs=dict(
                        zip(self.tokenizer.batch_decode(torch.cat([ids, asked])[:, None]), [*vals.tolist(), *row[asked].tolist()])
                    ),
                )
                for c, vals, ids, row in zip(completions, top.values, top.indices, first)
            ]
        return [completions[i * s.n : (i + 1) * s.n] for i in range(len(ids))]

    def _completion(self, tokens: list[int], eos: set[int], s: Sampling) -> Completion:
        cut = next((k for k, t in enumerate(tokens) if t in eos), None)
        finish = "length"
        if cut is not None:
            tokens, finish = tokens[: cut + 1], "stop"
        text = self.tokenizer.decode(tokens, skip_special_tokens=False)
        for marker in [self.tokenizer.decode([t]) for t in eos]:
            text = text.removesuffix(marker)
        hits = [text.find(stop) for stop in s.stop if stop in text]
        if hits:
            text, finish = text[: min(hits)], "stop"
        return Completion(text=text, num_tokens=len(tokens), finish_reason=finish)


def _batch_key(s: Sampling) -> tuple:
    return (s.n, s.temperature, s.top_p, s.max_tokens, s.stop, s.stop_token_ids, s.logprobs)
