"""OpenAI-compatible API backend: a hosted endpoint (NVIDIA NIM, ...) or a local `vllm serve` / sglang server.

A chat (`ChatPrompt`) goes to `/chat/completions` as messages, where the server
applies the model's template; any other text (a Magpie prefix, a base model's
plain prompt, a judge prompt that closes a think block) goes to `/completions`
as is. One asyncio client on a thread of its own sends every request of the
run, at most `max_concurrency` in flight whichever `generate` call (from any
thread, several at once) they came from; 429 and 5xx answers
and dropped connections are retried with exponential backoff (the server's
`Retry-After` when it sends one). Token counts come from the model's tokenizer
(or, without one, from the API's `usage`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace

import aiohttp

from magpie_hf.engines.base import Completion, EngineInfo, Prompt, Sampling, per_prompt
from magpie_hf.models.presets import package_version

log = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 16
MAX_TOP_LOGPROBS = 20  # the OpenAI API's upper bound for top_logprobs


class ApiError(RuntimeError):
    """A request the server refused for good (a 4xx other than 429), or that kept failing after every retry."""


class OpenAIEngine:
    """Requests to an OpenAI-compatible server; a run loads it through its context (`RunContext.engine`).

    Args:
        base_url: the API root, e.g. `http://127.0.0.1:8000/v1`.
        model: the served model's name, sent with every request.
        api_key: sent as a bearer token when given.
        max_concurrency: requests in flight at once.
        retries: attempts after the first for a 429, a 5xx or a dropped connection.
        backoff: seconds before the first retry; doubled each time (with jitter), at most 60.
        timeout: seconds one request may take.
        count_tokens: tokens of a completion's text (the model's tokenizer); without it a
            request's `usage.completion_tokens` is shared evenly among its `n` choices.

    Example:
        >>> engine = OpenAIEngine("http://127.0.0.1:8000/v1", "my-model")  # doctest: +SKIP
        >>> engine.generate(["1 + 1 ="], Sampling(max_tokens=4))[0][0].text  # doctest: +SKIP
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        max_concurrency: int = DEFAULT_CONCURRENCY,
        retries: int = 8,
        backoff: float = 1.0,
        timeout: float = 600.0,
        count_tokens: Callable[[str], int] | None = None,
    ):
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.base_url = base_url.rstrip("/")
        self.model, self.capacity, self.retries, self.backoff = model, max_concurrency, retries, backoff
        self.count_tokens = count_tokens
        self.count_lock = threading.Lock()  # a fast tokenizer must not encode in two threads at once
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="api-requests", daemon=True)
        self.thread.start()

        async def open_client() -> tuple[aiohttp.ClientSession, asyncio.Semaphore]:
            client = aiohttp.ClientSession(
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=timeout),
                connector=aiohttp.TCPConnector(limit=max_concurrency),
            )
            return client, asyncio.Semaphore(max_concurrency)

        self.client, self.slots = self._wait(open_client())
        self.info = EngineInfo(
            backend="openai",
            model=model,
            revision=None,
            extra={"base_url": base_url, "max_concurrency": max_concurrency, "aiohttp_version": package_version("aiohttp")},
        )

    def close(self) -> None:
        """Close the client and stop its event loop."""
        self._wait(self.client.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()

    def _wait(self, coroutine):
        """Run `coroutine` on the client's loop and wait for its result (from any other thread)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def generate(self, prompts: Sequence[Prompt], sampling: Sampling | Sequence[Sampling]) -> list[list[Completion]]:
        """Per prompt, `sampling.n` completions, from concurrent requests; a request that fails for good raises."""
        samplings = per_prompt(sampling, len(prompts))
        results = self._wait(self._all(prompts, samplings))
        failed = next((r for r in results if isinstance(r, BaseException)), None)
        if failed is not None:
            raise failed
        if self.count_tokens is None:
            return results
        with self.count_lock:
            return [[replace(c, num_tokens=self.count_tokens(c.text)) for c in out] for out in results]

    async def _all(self, prompts: Sequence[Prompt], samplings: list[Sampling]) -> list:
        """Every request, each waiting for a free slot; failures are returned, once all have ended."""
        return await asyncio.gather(*(self._one(p, s) for p, s in zip(prompts, samplings)), return_exceptions=True)

    async def _one(self, prompt: Prompt, s: Sampling) -> list[Completion]:
        chat = hasattr(prompt, "messages")
        body: dict = {
            "model": self.model,
            "n": s.n,
            "temperature": s.temperature,
            "top_p": s.top_p,
            "max_tokens": s.max_tokens,
        }
        if s.seed is not None:
            body["seed"] = s.seed
        if s.stop:
            body["stop"] = list(s.stop)
        top = min(max(s.logprobs, len(s.logprob_token_ids)), MAX_TOP_LOGPROBS)
        if chat:
            body["messages"] = prompt.messages
            if top:
                body.update(logprobs=True, top_logprobs=top)
        else:
            body["prompt"] = str(prompt)
            body["add_special_tokens"] = False  # vLLM/sglang: the text is rendered already, no second BOS
            if s.stop_token_ids:  # vLLM's extension: a raw prompt has no server-side template to end the turn
                body["stop_token_ids"] = list(s.stop_token_ids)
            if top:
                body["logprobs"] = top
        async with self.slots:
            reply = await self._post("/chat/completions" if chat else "/completions", body)
        usage = reply.get("usage") or {}
        choices = sorted(reply["choices"], key=lambda c: c.get("index", 0))
        share = usage.get("completion_tokens", 0) // max(len(choices), 1)
        return [
            Completion(
                text=(c["message"].get("content") or "") if chat else c["text"],
                num_tokens=share,
                finish_reason=c.get("finish_reason") or "stop",
                first_token_logprobs=_first_logprobs(c.get("logprobs"), chat),
            )
            for c in choices
        ]

    async def _post(self, path: str, body: dict) -> dict:
        """POST with retries on 429, 5xx and connection errors; other refusals raise at once."""
        url = self.base_url + path
        for attempt in range(self.retries + 1):
            wait = min(self.backoff * 2**attempt, 60.0) * (0.5 + random.random() / 2)
            try:
                async with self.client.post(url, json=body) as response:
                    if response.status < 400:
                        return await response.json(content_type=None)
                    problem = f"HTTP {response.status}: {(await response.text())[:300]}"
                    if response.status != 429 and response.status < 500:
                        raise ApiError(f"{url}: {problem}")
                    wait = _retry_after(response.headers, wait)
            except (aiohttp.ClientError, asyncio.TimeoutError) as err:  # dropped, refused or timed out
                problem = f"{type(err).__name__}: {err}"
            if attempt < self.retries:
                log.warning("%s: %s; retrying in %.1f s", url, problem, wait)
                await asyncio.sleep(wait)
        raise ApiError(f"{url}: {problem} (after {self.retries} retries)")


def _retry_after(headers, default: float) -> float:
    """The server's `Retry-After` in seconds when it gives a number, else `default`."""
    try:
        return max(float(headers.get("retry-after", default)), 0.0)
    except ValueError:  # an HTTP date: back off as usual
        return default


def _first_logprobs(logprobs: dict | None, chat: bool) -> dict[str, float]:
    """The first generated position's alternatives, decoded token -> logprob, in either endpoint's layout."""
    if not logprobs:
        return {}
    if chat:
        content = logprobs.get("content") or []
        return {alt["token"]: alt["logprob"] for alt in content[0].get("top_logprobs", [])} if content else {}
    top = logprobs.get("top_logprobs") or []
    return dict(top[0]) if top and top[0] else {}


def api_key(variable: str | None) -> str | None:
    """The key in environment variable `variable`; None when no variable is named (a local server)."""
    return os.environ.get(variable) if variable else None
