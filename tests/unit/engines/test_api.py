"""The OpenAI-compatible engine against a tiny HTTP server on loopback: routing, retries, refusals, logprobs,
servers that ignore `n`, reasoning fields, and client-side budgets."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from magpie_hf.engines.api import ApiError, OpenAIEngine, Slots
from magpie_hf.engines.base import EngineRefusal, PartialFailure, Sampling, Usage
from magpie_hf.models.chat_format import ChatPrompt


class Endpoint(BaseHTTPRequestHandler):
    """Answers as an OpenAI-compatible server would; `script` holds (status, headers) to answer first."""

    script: list[tuple[int, dict]] = []
    seen: list[tuple[str, dict]] = []
    arrived: list[float] = []
    most_choices: int | None = None  # a server that ignores `n` answers one choice
    strict: bool = False  # refuses fields the OpenAI API does not have, as `transformers serve` does
    reasoning: str | None = None  # a reasoning parser's field, beside the content

    def do_POST(self):  # noqa: N802 - the http.server API
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Endpoint.seen.append((self.path, body))
        Endpoint.arrived.append(time.monotonic())
        status, headers = Endpoint.script.pop(0) if Endpoint.script else (200, {})
        extra = sorted({"add_special_tokens", "stop_token_ids"}.intersection(body)) if Endpoint.strict else []
        status = 422 if extra else status
        n = min(body["n"], Endpoint.most_choices or body["n"])
        if extra:
            payload = {"detail": f"Unexpected fields in the request: {set(extra[:1])}"}
        elif status != 200:
            payload = {"error": {"message": "slow down" if status == 429 else "bad request"}}
        elif self.path.endswith("/chat/completions"):
            top = [{"token": "Yes", "logprob": -0.1}, {"token": "No", "logprob": -2.5}]
            message = {"role": "assistant", "content": f"chat:{body['messages'][-1]['content']}"}
            choice = {"message": {**message, "reasoning_content": Endpoint.reasoning}}
            if body.get("logprobs"):
                choice["logprobs"] = {"content": [{"token": "Yes", "logprob": -0.1, "top_logprobs": top}]}
            payload = {"choices": [{**choice, "index": k, "finish_reason": "stop"} for k in range(n)]}
        else:
            text = f":{body['prompt'][-3:]}"
            choices = [{"index": k, "text": f"raw{k}{text}", "finish_reason": "length"} for k in range(n)]
            if body.get("logprobs"):
                for c in choices:
                    c["logprobs"] = {"top_logprobs": [{" Yes": -0.3, " No": -1.4}]}
            payload = {"choices": choices[::-1]}  # out of order: the engine sorts by index
        payload["usage"] = {"prompt_tokens": 5, "completion_tokens": 3 * n}
        data = json.dumps(payload).encode()
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):  # keep the test output quiet
        pass


@pytest.fixture
def server():
    """The loopback server's base URL, its script and records reset."""
    Endpoint.script, Endpoint.seen, Endpoint.arrived = [], [], []
    Endpoint.most_choices = Endpoint.reasoning = None
    Endpoint.strict = False
    server = ThreadingHTTPServer(("127.0.0.1", 0), Endpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/v1/"  # a trailing slash, as users paste it
    server.shutdown()


@pytest.fixture
def endpoint(server):
    engine = OpenAIEngine(server, "served-model", api_key="k", backoff=0.01)
    yield engine
    engine.close()


def test_chats_go_to_the_chat_endpoint_and_rendered_text_to_completions(endpoint):
    chat = ChatPrompt("<rendered>", [{"role": "user", "content": "What is 2+2?"}])
    sampling = Sampling(n=2, max_tokens=8, stop=("<|im_end|>",), stop_token_ids=(2,), seed=3)
    outs = endpoint.generate([chat, "<|im_start|>user\n"], sampling)
    assert [c.text for c in outs[0]] == ["chat:What is 2+2?"] * 2
    assert [c.text for c in outs[1]] == ["raw0:er\n", "raw1:er\n"] and outs[1][0].finish_reason == "length"
    (chat_path, chat_body), (raw_path, raw_body) = sorted(Endpoint.seen, key=lambda s: s[0])
    assert chat_path == "/v1/chat/completions" and "stop_token_ids" not in chat_body and "prompt" not in chat_body
    assert raw_path == "/v1/completions" and raw_body["prompt"] == "<|im_start|>user\n"
    assert raw_body["stop_token_ids"] == [2] and raw_body["add_special_tokens"] is False
    assert chat_body["model"] == raw_body["model"] == "served-model" and raw_body["seed"] == chat_body["seed"] == 3


def test_429_and_5xx_are_retried_until_the_server_answers(endpoint):
    Endpoint.script = [(429, {"Retry-After": "0"}), (503, {}), (200, {})]
    usage = Usage()
    outs = endpoint.generate(["prompt"], Sampling(max_tokens=4), usage)
    assert outs[0][0].text == "raw0:mpt" and len(Endpoint.seen) == 3
    assert outs[0][0].num_tokens == 3  # tokens of the answer that succeeded, not of the refusals
    assert (usage.retries, usage.rate_limited, usage.requests) == (2, 1, 0)  # no top-up request


def test_a_refusal_fails_its_prompt_at_once_and_endless_429s_give_up(endpoint):
    Endpoint.script = [(400, {})]
    with pytest.raises(PartialFailure) as failed:
        endpoint.generate(["prompt", "other"], Sampling(max_tokens=4))
    answered = [out[0].text for out in failed.value.outputs if out is not None]
    assert len(answered) == 1 and answered[0] in {"raw0:mpt", "raw0:her"}  # whichever arrived second
    (refusal,) = failed.value.errors
    assert isinstance(refusal, EngineRefusal) and len(Endpoint.seen) == 2  # not retried
    assert "/v1/completions refused the request: HTTP 400: bad request (check engine.model" in str(refusal)
    assert "//" not in str(refusal).removeprefix("http://")
    endpoint.retries = 2
    Endpoint.script = [(429, {"Retry-After": "0"})] * 3
    usage = Usage()
    with pytest.raises(PartialFailure) as failed:
        endpoint.generate(["prompt"], Sampling(max_tokens=4), usage)
    assert isinstance(failed.value.errors[0], ApiError) and "after 2 retries" in str(failed.value.errors[0])
    assert (usage.retries, usage.rate_limited) == (2, 3)


def test_first_token_logprobs_come_from_either_endpoint(endpoint):
    chat = ChatPrompt("<rendered>", [{"role": "user", "content": "Right?"}])
    judge = Sampling(temperature=0.0, max_tokens=1, logprob_token_ids=(10, 11, 12))
    outs = endpoint.generate([chat, "Right? Answer:"], judge)
    assert outs[0][0].first_token_logprobs == {"Yes": -0.1, "No": -2.5}
    assert outs[1][0].first_token_logprobs == {" Yes": -0.3, " No": -1.4}
    bodies = {path: body for path, body in Endpoint.seen}
    assert bodies["/v1/chat/completions"]["top_logprobs"] == 3 and bodies["/v1/completions"]["logprobs"] == 3


def test_requests_run_concurrently_and_keep_their_order(endpoint):
    prompts = [f"p{i:02d}" for i in range(24)]
    outs = endpoint.generate(prompts, Sampling(max_tokens=4))
    assert [o[0].text for o in outs] == [f"raw0:{p[-3:]}" for p in prompts]


def test_a_server_that_ignores_n_is_asked_for_the_rest_each_with_its_own_seed(endpoint):
    Endpoint.most_choices = 1
    usage = Usage()
    chat = ChatPrompt("<rendered>", [{"role": "user", "content": "Solve it"}])
    outs = endpoint.generate([chat, "a prompt"], Sampling(n=4, max_tokens=4, seed=7), usage)
    assert [len(o) for o in outs] == [4, 4] and usage.requests == 6  # 3 top-ups per prompt
    asked = sorted((body.get("prompt", "chat"), body["seed"], body["n"]) for _, body in Endpoint.seen)
    assert [(p, seed) for p, seed, _ in asked] == [(p, 7 + k) for p in ("a prompt", "chat") for k in range(4)]
    assert 4 in {n for _, seed, n in asked if seed == 7} and {n for _, seed, n in asked if seed > 7} == {1}
    assert endpoint.n_per_request == 1  # learned: the next prompts ask one choice at a time
    Endpoint.seen.clear()
    assert len(endpoint.generate(["again"], Sampling(n=2, max_tokens=4, seed=0))[0]) == 2
    assert [(body["n"], body["seed"]) for _, body in Endpoint.seen] == [(1, 0), (1, 1)]


def test_n_per_request_splits_n_from_the_start(server):
    engine = OpenAIEngine(server, "served-model", n_per_request=2)
    try:
        assert len(engine.generate(["p"], Sampling(n=5, max_tokens=4, seed=1))[0]) == 5
    finally:
        engine.close()
    assert sorted((body["n"], body["seed"]) for _, body in Endpoint.seen) == [(1, 5), (2, 1), (2, 3)]


def test_reasoning_content_goes_into_a_think_block_before_the_content(endpoint):
    Endpoint.reasoning = "  2 and 2 make 4.\n"
    chat = ChatPrompt("<rendered>", [{"role": "user", "content": "2+2?"}])
    (out,) = endpoint.generate([chat], Sampling(max_tokens=8))[0]
    assert out.text == "<think>\n2 and 2 make 4.\n</think>\n\nchat:2+2?"


def _rate(times: list[float], per_event: float) -> float:
    """Events' units per minute between the first and the last arrival."""
    return (len(times) - 1) * per_event * 60 / (times[-1] - times[0])


def test_requests_per_minute_holds_over_a_short_window(server):
    engine = OpenAIEngine(server, "served-model", max_concurrency=8, requests_per_minute=600)
    try:
        engine.generate([f"p{i}" for i in range(25)], Sampling(max_tokens=4))
    finally:
        engine.close()
    assert _rate(sorted(Endpoint.arrived), 1) == pytest.approx(600, rel=0.1)


def test_tokens_per_minute_holds_corrected_by_the_reported_usage(server):
    # Estimated at 40 // 4 + 12 = 22 tokens a request; the server reports 5 + 3 = 8, which the budget then spends.
    engine = OpenAIEngine(server, "served-model", max_concurrency=1, tokens_per_minute=4800)
    try:
        engine.generate(["x" * 40] * 25, Sampling(max_tokens=12))
    finally:
        engine.close()
    assert _rate(sorted(Endpoint.arrived), 8) == pytest.approx(4800, rel=0.1)


def test_a_429_halves_the_requests_in_flight_which_then_grow_back(endpoint, monkeypatch):
    limits = []
    give = Slots.give

    async def recorded(self, throttled):
        await give(self, throttled)
        limits.append(self.limit)

    monkeypatch.setattr(Slots, "give", recorded)
    Endpoint.script = [(429, {"Retry-After": "0"})] * 2
    usage = Usage()
    assert len(endpoint.generate([f"p{i}" for i in range(160)], Sampling(max_tokens=4), usage)) == 160
    assert min(limits) <= 8 and limits[-1] == 16 and usage.rate_limited == 2
    assert endpoint.in_flight == 0


def test_a_server_that_refuses_vllms_raw_completion_fields_is_asked_without_them(endpoint):
    Endpoint.strict = True
    outs = endpoint.generate(["<|im_start|>user\n"] * 3, Sampling(max_tokens=4, stop_token_ids=(2,)))
    assert [o[0].text for o in outs] == ["raw0:er\n"] * 3 and endpoint.vllm_fields is False
    assert all("add_special_tokens" not in body for _, body in Endpoint.seen[-3:])
