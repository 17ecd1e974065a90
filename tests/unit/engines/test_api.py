"""The OpenAI-compatible engine against a tiny HTTP server on loopback: routing, retries, refusals, logprobs."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from magpie_hf.engines.api import ApiError, OpenAIEngine
from magpie_hf.engines.base import Sampling
from magpie_hf.models.chat_format import ChatPrompt


class Endpoint(BaseHTTPRequestHandler):
    """Answers as an OpenAI-compatible server would; `script` holds (status, headers) to answer first."""

    script: list[tuple[int, dict]] = []
    seen: list[tuple[str, dict]] = []

    def do_POST(self):  # noqa: N802 - the http.server API
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Endpoint.seen.append((self.path, body))
        status, headers = Endpoint.script.pop(0) if Endpoint.script else (200, {})
        if status != 200:
            payload = {"error": {"message": "slow down" if status == 429 else "bad request"}}
        elif self.path.endswith("/chat/completions"):
            top = [{"token": "Yes", "logprob": -0.1}, {"token": "No", "logprob": -2.5}]
            choice = {"message": {"role": "assistant", "content": f"chat:{body['messages'][-1]['content']}"}}
            if body.get("logprobs"):
                choice["logprobs"] = {"content": [{"token": "Yes", "logprob": -0.1, "top_logprobs": top}]}
            payload = {"choices": [{**choice, "index": k, "finish_reason": "stop"} for k in range(body["n"])]}
        else:
            text = f":{body['prompt'][-3:]}"
            choices = [{"index": k, "text": f"raw{k}{text}", "finish_reason": "length"} for k in range(body["n"])]
            if body.get("logprobs"):
                for c in choices:
                    c["logprobs"] = {"top_logprobs": [{" Yes": -0.3, " No": -1.4}]}
            payload = {"choices": choices[::-1]}  # out of order: the engine sorts by index
        payload["usage"] = {"prompt_tokens": 5, "completion_tokens": 3 * body.get("n", 1)}
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
def endpoint():
    Endpoint.script, Endpoint.seen = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Endpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    engine = OpenAIEngine(f"http://127.0.0.1:{server.server_port}/v1", "served-model", api_key="k", backoff=0.01)
    yield engine
    engine.close()
    server.shutdown()


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
    outs = endpoint.generate(["prompt"], Sampling(max_tokens=4))
    assert outs[0][0].text == "raw0:mpt" and len(Endpoint.seen) == 3
    assert outs[0][0].num_tokens == 3  # tokens of the answer that succeeded, not of the refusals


def test_a_refusal_raises_at_once_and_endless_429s_give_up(endpoint):
    Endpoint.script = [(400, {})]
    with pytest.raises(ApiError, match="HTTP 400"):
        endpoint.generate(["prompt"], Sampling(max_tokens=4))
    assert len(Endpoint.seen) == 1
    endpoint.retries = 2
    Endpoint.script = [(429, {"Retry-After": "0"})] * 3
    with pytest.raises(ApiError, match="after 2 retries"):
        endpoint.generate(["prompt"], Sampling(max_tokens=4))


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
