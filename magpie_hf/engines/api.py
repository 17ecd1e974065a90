"""OpenAI-compatible API backend: a hosted endpoint (NVIDIA NIM, ...) or a local `vllm serve` / sglang server.

A chat (`ChatPrompt`) goes to `/chat/completions` as messages, where the server
applies the model's template; any other text (a Magpie prefix, a base model's
plain prompt, a judge prompt that closes a think block) goes to `/completions`
as is. One asyncio client on a thread of its own sends every request of the
run, at most `max_concurrency` in flight whichever `generate` call (from any
thread, several at once) they came from.

Endpoints as they are:
- 429 and 5xx answers and dropped connections are retried with exponential
  backoff (the server's `Retry-After` when it sends one); a 429 also halves the
  requests in flight, which grow back by one per window of successes.
- `requests_per_minute` and `tokens_per_minute` are spent evenly on the client
  (a request's tokens estimated as its prompt plus `max_tokens` per choice, then
  corrected by the reply's `usage`).
- A server that answers fewer choices than `n` is asked for the rest, each
  further request with its own seed; from then on the engine asks for as many
  choices per request as the server gave (`n_per_request` sets it up front).
- Reasoning the server returns apart (`reasoning_content` or `reasoning`) joins
  the text as a `<think>...</think>` block before the content.
- A 4xx other than 429 is a refusal (`EngineRefusal`): not retried, except
  that a server refusing vLLM's raw-completion fields (`add_special_tokens`,
  `stop_token_ids`: `transformers serve`, OpenAI) is asked again without them,
  and from then on never sent them.

Token counts come from the model's tokenizer (or, without one, from the API's `usage`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace

import aiohttp

from magpie_hf.engines.base import (
    Completion,
    EngineInfo,
    EngineRefusal,
    PartialFailure,
    Prompt,
    Sampling,
    Usage,
    per_prompt,
)
from magpie_hf.models.presets import package_version

log = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 16
MAX_TOP_LOGPROBS = 20  # the OpenAI API's upper bound for top_logprobs
REFUSAL_FIX = "check engine.model, engine.base_url and the key in engine.api_key_env"
VLLM_FIELDS = frozenset({"add_special_tokens", "stop_token_ids"})  # raw completions; `transformers serve` refuses them


class ApiError(RuntimeError):
    """A request that kept failing after every retry, or whose reply held no choice."""


class Pace:
    """Spends a budget of `per_minute` units evenly: each spend waits until the schedule reaches it.

    Example:
        >>> pace = Pace(per_minute=120)           # one unit every 0.5 s
        >>> asyncio.run(pace.spend(1))            # the first goes at once
    """

    def __init__(self, per_minute: float):
        self.seconds_per_unit = 60.0 / per_minute
        self.free_at = 0.0  # the loop time from which the next spend may go

    async def spend(self, units: float) -> None:
        now = asyncio.get_running_loop().time()
        start = max(now, self.free_at)
        self.free_at = start + units * self.seconds_per_unit
        if start > now:
            await asyncio.sleep(start - now)

    def refund(self, units: float) -> None:
        """Give back units spent but not used (negative: charge more)."""
        self.free_at -= units * self.seconds_per_unit


class Slots:
    """At most `limit` requests in flight; the limit halves on a 429 and grows back by one per `limit` successes."""

    def __init__(self, most: int):
        self.most = self.limit = most
        self.busy = self.streak = 0
        self.freed = asyncio.Condition()

    async def take(self) -> None:
        async with self.freed:
            await self.freed.wait_for(lambda: self.busy < self.limit)
            self.busy += 1

    async def give(self, throttled: bool) -> None:
        async with self.freed:
            self.busy -= 1
            if throttled:
                self.limit, self.streak = max(1, self.limit // 2), 0
            else:
                self.streak += 1
                if self.streak >= self.limit and self.limit < self.most:
                    self.limit, self.streak = self.limit + 1, 0
            self.freed.notify(max(0, self.limit - self.busy))


class OpenAIEngine:
    """Requests to an OpenAI-compatible server; a run loads it through its context (`RunContext.engine`).

    Args:
        base_url: the API root, e.g. `http://127.0.0.1:8000/v1`.
        model: the served model's name, sent with every request.
        api_key: sent as a bearer token when given.
        max_concurrency: requests in flight at once (fewer for a while after a 429).
        retries: attempts after the first for a 429, a 5xx or a dropped connection.
        backoff: seconds before the first retry; doubled each time (with jitter), at most 60.
        timeout: seconds one request may take.
        count_tokens: tokens of a text (the model's tokenizer); without it a request's
            `usage.completion_tokens` is shared evenly among its choices.
        n_per_request: choices asked for per request (1 for a server known to ignore `n`);
            default: all `n` at once, fewer once the server answers fewer.
        requests_per_minute: client-side request budget.
        tokens_per_minute: client-side token budget (prompt plus completion tokens).

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
        n_per_request: int | None = None,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
    ):
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.base_url = base_url.rstrip("/")
        self.model, self.capacity, self.retries, self.backoff = model, max_concurrency, retries, backoff
        self.count_tokens = count_tokens
        self.n_per_request = n_per_request
        self.vllm_fields = True  # vLLM's raw-completion fields; dropped once a server refuses them
        self.request_pace = Pace(requests_per_minute) if requests_per_minute else None
        self.token_pace = Pace(tokens_per_minute) if tokens_per_minute else None
        self.count_lock = threading.Lock()  # a fast tokenizer must not encode in two threads at once
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="api-requests", daemon=True)
        self.thread.start()

        async def open_client() -> tuple[aiohttp.ClientSession, Slots]:
            client = aiohttp.ClientSession(
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=timeout),
                connector=aiohttp.TCPConnector(limit=max_concurrency),
            )
            return client, Slots(max_concurrency)

        self.client, self.slots = self._wait(open_client())
        self.info = EngineInfo(
            backend="openai",
            model=model,
            revision=None,
            extra={
                "base_url": base_url,
                "max_concurrency": max_concurrency,
                "aiohttp_version": package_version("aiohttp"),
            },
        )

    @property
    def in_flight(self) -> int:
        """Requests sent and not answered yet."""
        return self.slots.busy

    def close(self) -> None:
        """Close the client and stop its event loop."""
        self._wait(self.client.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()

    def _wait(self, coroutine):
        """Run `coroutine` on the client's loop and wait for its result (from any other thread)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def _tokens(self, text: str) -> int:
        with self.count_lock:
            return self.count_tokens(text) if self.count_tokens else len(text) // 4

    def generate(
        self, prompts: Sequence[Prompt], sampling: Sampling | Sequence[Sampling], usage: Usage | None = None
    ) -> list[list[Completion]]:
        """Per prompt, `sampling.n` completions, from concurrent requests.

        Top-up requests, retries and 429s are counted into `usage`. Prompts
        refused or failing after every retry raise `PartialFailure` with the others' completions.
        """
        samplings = per_prompt(sampling, len(prompts))
        results = self._wait(self._all(prompts, samplings, usage or Usage()))
        if self.count_tokens is not None:
            results = [
                r if isinstance(r, BaseException) else [replace(c, num_tokens=self._tokens(c.text)) for c in r]
                for r in results
            ]
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise PartialFailure([None if isinstance(r, BaseException) else r for r in results], errors)
        return results

    async def _all(self, prompts: Sequence[Prompt], samplings: list[Sampling], usage: Usage) -> list:
        """Every request, each waiting for a free slot; failures are returned, once all have ended."""
        return await asyncio.gather(
            *(self._one(p, s, usage) for p, s in zip(prompts, samplings)), return_exceptions=True
        )

    async def _one(self, prompt: Prompt, s: Sampling, usage: Usage) -> list[Completion]:
        """The prompt's `s.n` completions, from as many requests as the server needs to give them."""
        chat = hasattr(prompt, "messages")
        path, body = "/chat/completions" if chat else "/completions", self._body(prompt, s, chat)
        prompt_tokens = self._tokens(str(prompt)) if self.token_pace else 0
        completions: list[Completion] = []
        while len(completions) < s.n:
            ask = min(s.n - len(completions), self.n_per_request or s.n)
            seed = {} if s.seed is None else {"seed": s.seed + len(completions)}  # each top-up its own seed
            try:
                reply = await self._post(path, {**body, "n": ask, **seed}, prompt_tokens + ask * s.max_tokens, usage)
            except EngineRefusal as refusal:
                if not any(f"'{name}'" in str(refusal) for name in VLLM_FIELDS.intersection(body)):
                    raise
                self._without_vllm_fields(refusal)
                body = {k: v for k, v in body.items() if k not in VLLM_FIELDS}
                continue
            choices = sorted(reply.get("choices") or [], key=lambda c: c.get("index", 0))[:ask]
            if not choices:
                raise ApiError(f"{self.base_url}{path}: the reply holds no choices")
            if len(choices) < ask:
                self._fewer_choices(len(choices), ask)
            share = (reply.get("usage") or {}).get("completion_tokens", 0) // len(choices)
            completions += [_completion(c, chat, share) for c in choices]
            usage.requests += len(completions) < s.n  # a top-up follows
        return completions

    def _fewer_choices(self, got: int, asked: int) -> None:
        """Ask for at most `got` choices per request from now on (the server ignores or caps `n`)."""
        log.warning(
            "%s answered %d of %d choices: asking for the rest in further requests (engine.n_per_request: %d)",
            self.base_url,
            got,
            asked,
            got,
        )
        self.n_per_request = got

    def _without_vllm_fields(self, refusal: EngineRefusal) -> None:
        """Send raw completions without vLLM's extensions from now on (the server refuses them)."""
        if self.vllm_fields:
            log.warning("%s; sending raw completions without %s from now on", refusal, ", ".join(sorted(VLLM_FIELDS)))
        self.vllm_fields = False

    def _body(self, prompt: Prompt, s: Sampling, chat: bool) -> dict:
        """The request body without `n` and `seed` (they vary among a prompt's requests)."""
        body: dict = {"model": self.model, "temperature": s.temperature, "top_p": s.top_p, "max_tokens": s.max_tokens}
        if s.stop:
            body["stop"] = list(s.stop)
        top = min(max(s.logprobs, len(s.logprob_token_ids)), MAX_TOP_LOGPROBS)
        if chat:
            body["messages"] = prompt.messages
            if top:
                body.update(logprobs=True, top_logprobs=top)
        else:
            body["prompt"] = str(prompt)
            if self.vllm_fields:
                body["add_special_tokens"] = False  # vLLM/sglang: the text is rendered already, no second BOS
                if s.stop_token_ids:  # a raw prompt has no server-side template to end the turn
                    body["stop_token_ids"] = list(s.stop_token_ids)
            if top:
                body["logprobs"] = top
        return body

    async def _post(self, path: str, body: dict, tokens: int, usage: Usage) -> dict:
        """POST within the budgets, with retries on 429, 5xx and connection errors; a refusal raises at once."""
        url = self.base_url + path
        for attempt in range(self.retries + 1):
            wait = min(self.backoff * 2**attempt, 60.0) * (0.5 + random.random() / 2)
            await self.slots.take()
            throttled = answered = False
            try:
                if self.request_pace:
                    await self.request_pace.spend(1)
                if self.token_pace:
                    await self.token_pace.spend(tokens)
                async with self.client.post(url, json=body) as response:
                    if response.status < 400:
                        reply = await response.json(content_type=None)
                        if self.token_pace and reply.get("usage"):
                            used = reply["usage"].get("prompt_tokens", 0) + reply["usage"].get("completion_tokens", 0)
                            self.token_pace.refund(tokens - used)
                        answered = True
                        return reply
                    problem = f"HTTP {response.status}: {_server_message(await response.text())}"
                    if response.status != 429 and response.status < 500:
                        raise EngineRefusal(f"{url} refused the request: {problem} ({REFUSAL_FIX})")
                    throttled = response.status == 429
                    usage.rate_limited += throttled
                    wait = _retry_after(response.headers, wait)
            except (aiohttp.ClientError, asyncio.TimeoutError) as err:  # dropped, refused or timed out
                problem = f"{type(err).__name__}: {err}"
            finally:
                await self.slots.give(throttled)
                if self.token_pace and not answered:
                    self.token_pace.refund(tokens)  # refused, throttled or dropped: its tokens were not spent
            if attempt < self.retries:
                usage.retries += 1
                log.warning("%s: %s; retrying in %.1f s", url, problem, wait)
                await asyncio.sleep(wait)
        raise ApiError(f"{url}: {problem} (after {self.retries} retries)")


def _completion(choice: dict, chat: bool, num_tokens: int) -> Completion:
    """One choice of a reply; a chat message's separate reasoning goes before its content in a think block."""
    text = choice.get("text") or ""
    if chat:
        message = choice.get("message") or {}
        text = message.get("content") or ""
        reasoning = message.get("reasoning_content") or message.get("reasoning")
        if reasoning:
            text = f"<think>\n{reasoning.strip()}\n</think>\n\n{text}"
    return Completion(
        text=text,
        num_tokens=num_tokens,
        finish_reason=choice.get("finish_reason") or "stop",
        first_token_logprobs=_first_logprobs(choice.get("logprobs"), chat),
    )


def _server_message(body: str) -> str:
    """The refusal's own words, on one line: `error.message` (OpenAI), `detail` (FastAPI), `message`, or the body."""
    try:
        payload = json.loads(body)
    except ValueError:
        payload = None
    if isinstance(payload, dict):
        error = payload.get("error")
        error = error.get("message") if isinstance(error, dict) else error
        found = error or payload.get("detail") or payload.get("message")
        if found:
            body = found if isinstance(found, str) else json.dumps(found)
    return " ".join(body.split())[:300]


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
