"""Streaming generation across shards: the runner against the engine fed in one go, side by side in one run.

(a) vLLM: the same N prompts (greedy SFT solutions to ../shared/data/train
    problems, so output lengths vary) through the runner's `sample` stage at
    `--shards` shards, against one `LLM.generate` call over all N on the same
    engine. Target: runner / one call >= 0.97.
(b) API: Magpie requests to a loopback server with lognormal latency (mean
    0.2 s, sigma 1; a child process, bounded in requests and seconds) through
    the runner at `max_concurrency` 16 and 64, against a plain asyncio client
    at the same concurrency. Target: runner / plain >= 0.9 at both.
(c) Rerun: a finished `make algebra` run again, whole process (`bench/rerun.py`;
    run `make algebra` once first). Target: <= 1.0 s.

Each comparison runs both sides twice, alternated (vLLM: the sums; API: the best
of each, both after a reset of the server's delays).

Run: `.venv/bin/python bench/streaming.py [--rows 192] [--max-tokens 128] [--shards 8]
[--api-rows 1024 2048] [--only api|vllm|rerun]`
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

TRAIN = Path(__file__).parents[1].parent / "shared" / "data" / "train" / "math_train_2k.jsonl"
LATENCY_MEAN, LATENCY_SIGMA = 0.2, 1.0
SERVER_SECONDS, SERVER_REQUESTS = 600, 20_000  # the loopback server stops by itself past either
REPEATS = 2  # each side runs twice, alternated with the other


def serve(port: int) -> None:
    """An OpenAI-compatible /v1/completions that answers after a lognormal delay (child process).

    The k-th request after a POST to /reset waits the k-th delay of one fixed
    draw, so every client measured gets the same delays.
    """
    from aiohttp import web

    mu = math.log(LATENCY_MEAN) - LATENCY_SIGMA**2 / 2  # lognormal with mean LATENCY_MEAN
    rng = random.Random(0)
    delays = [rng.lognormvariate(mu, LATENCY_SIGMA) for _ in range(SERVER_REQUESTS)]
    served, total = 0, 0

    async def reset(request: web.Request) -> web.Response:
        nonlocal served
        served = 0
        return web.json_response({})

    async def completions(request: web.Request) -> web.Response:
        nonlocal served, total
        body = await request.json()
        served, total = served + 1, total + 1
        if total > SERVER_REQUESTS:
            raise web.HTTPServiceUnavailable()
        await asyncio.sleep(delays[served % SERVER_REQUESTS])
        choices = [{"index": k, "text": f" What is {served}+{k}?", "finish_reason": "stop"} for k in range(body["n"])]
        return web.json_response({"choices": choices, "usage": {"prompt_tokens": 8, "completion_tokens": 6}})

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/v1/completions", completions)
        app.router.add_post("/reset", reset)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        await asyncio.sleep(SERVER_SECONDS)

    asyncio.run(main())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server() -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])
    deadline = time.time() + 30
    while time.time() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return proc, f"http://127.0.0.1:{port}/v1"
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the loopback server did not start")


def plain_client(base_url: str, prompt: str, rows: int, concurrency: int) -> float:
    """Seconds a plain asyncio client (aiohttp, as fast as Python clients get) takes for `rows` requests."""
    import aiohttp

    async def main() -> None:
        slots = asyncio.Semaphore(concurrency)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as client:

            async def one(seed: int) -> None:
                async with slots:
                    body = {"model": "m", "prompt": prompt, "n": 1, "max_tokens": 64, "seed": seed}
                    async with client.post(f"{base_url}/completions", json=body) as response:
                        response.raise_for_status()
                        await response.json()

            await asyncio.gather(*(one(i) for i in range(rows)))

    start = time.perf_counter()
    asyncio.run(main())
    return time.perf_counter() - start


def through_runner(recipe, rows: int, shard_size: int, run=None) -> tuple[float, int]:
    """Seconds and generated tokens of the recipe's stages over `rows` rows, through the runner."""
    from magpie_hf.run.job import input_rows
    from magpie_hf.run.runner import run_stages

    data, fingerprint = input_rows(recipe, rows)
    with tempfile.TemporaryDirectory() as run_dir:
        start = time.perf_counter()
        result = run_stages(data, fingerprint, recipe.stage_entries(), recipe.preset(), run_dir, shard_size, run=run)
        seconds = time.perf_counter() - start
    return seconds, result.reports[-1].generated_tokens


def api(rows: int, concurrency: int, base_url: str) -> dict:
    """The runner's instructions stage at 8 shards against a plain asyncio client, at `concurrency` in flight."""
    from magpie_hf.core.recipe import Recipe
    from magpie_hf.models.presets import resolve_model
    from magpie_hf.run.context import RunContext

    recipe = Recipe(
        name="bench",
        domain="algebra",
        count=rows,
        engine={"backend": "openai", "base_url": base_url, "max_concurrency": concurrency, "model": "m"},
        stages=[{"stage": "instructions", "max_tokens": 64}],
    )
    prompt = resolve_model("embedded").magpie_prefix(None)
    plain, runner = [], []
    with RunContext() as run:
        through_runner(recipe, concurrency, shard_size=concurrency, run=run)  # warm-up: the client and tokenizer load
        for _ in range(REPEATS):  # alternated, each after a reset: both get the same delays
            reset(base_url)
            plain.append(plain_client(base_url, prompt, rows, concurrency))
            reset(base_url)
            runner.append(through_runner(recipe, rows, shard_size=max(rows // 8, 1), run=run)[0])
    best = {"plain_s": min(plain), "runner_s": min(runner)}
    return {"rows": rows, "concurrency": concurrency, **best, "ratio": best["plain_s"] / best["runner_s"]}


def reset(base_url: str) -> None:
    """Restart the loopback server's fixed sequence of delays."""
    urllib.request.urlopen(urllib.request.Request(base_url.removesuffix("/v1") + "/reset", method="POST")).read()


def vllm(rows: int, shards: int, max_tokens: int) -> dict:
    """The runner's sample stage at `shards` shards against one LLM.generate call, on one engine."""
    from vllm import SamplingParams
    from vllm.inputs import TokensPrompt

    from magpie_hf.core.recipe import Recipe
    from magpie_hf.core.seeds import per_row_sampling
    from magpie_hf.engines import Sampling
    from magpie_hf.run.context import RunContext
    from magpie_hf.stages.prompting import chat
    from magpie_hf.stages.sample import STEP_BY_STEP

    problems = [json.loads(line)["problem"] for line in TRAIN.open()][:rows]
    source = Path(tempfile.mkdtemp()) / "problems.jsonl"
    source.write_text("".join(json.dumps({"problem": p}) + "\n" for p in problems))
    recipe = Recipe(
        name="bench",
        domain="math",
        source={"path": str(source), "columns": {"problem": "problem"}},
        stages=[{"stage": "sample", "label": "response", "max_tokens": max_tokens}],
    )
    with RunContext() as run:
        model = recipe.preset()
        engine = run.engine(model)
        ids = [f"math-{i:06d}" for i in range(rows)]
        base = Sampling(max_tokens=max_tokens, stop=model.stop, stop_token_ids=model.stop_token_ids)
        seeds = per_row_sampling(base, 0, ids, salt="response")
        texts = [model.chat_prompt(chat(None, STEP_BY_STEP.replace("{problem}", p))) for p in problems]
        prompts = [TokensPrompt(prompt_token_ids=engine.tokenizer.encode(t, add_special_tokens=False)) for t in texts]
        params = [  # as the sample stage asks for them (greedy: the seeds change nothing)
            SamplingParams(
                temperature=0.0,
                max_tokens=max_tokens,
                stop=list(s.stop),
                stop_token_ids=list(s.stop_token_ids),
                seed=s.seed,
            )
            for s in seeds
        ]
        engine.llm.generate(prompts[:8], params[:8], use_tqdm=False)  # warm-up
        one = [0.0, 0]  # seconds, tokens
        runner = [0.0, 0]
        for _ in range(REPEATS):  # alternated: a slower spell of the machine hits both sides
            start = time.perf_counter()  # the step loop is idle: this call has the engine to itself
            outputs = engine.llm.generate(prompts, params, use_tqdm=False)
            one[0] += time.perf_counter() - start
            one[1] += sum(len(c.token_ids) for o in outputs for c in o.outputs)
            seconds, tokens = through_runner(recipe, rows, shard_size=math.ceil(rows / shards), run=run)
            runner[0] += seconds
            runner[1] += tokens
    return {
        "rows": rows,
        "shards": shards,
        "one_call_tok_s": one[1] / one[0],
        "runner_tok_s": runner[1] / runner[0],
        "ratio": (runner[1] / runner[0]) / (one[1] / one[0]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=192)
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--api-rows", type=int, nargs=2, default=(1024, 2048))
    parser.add_argument("--only", choices=("api", "vllm", "rerun"), help="run one of the three parts")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "1")
    if args.only in (None, "api"):
        server, base_url = start_server()
        try:
            for rows, concurrency in zip(args.api_rows, (16, 64)):
                r = api(rows, concurrency, base_url)
                print(
                    f"API  {r['rows']:5d} requests, {r['concurrency']:2d} in flight: "
                    f"plain asyncio {r['plain_s']:6.1f} s, runner {r['runner_s']:6.1f} s, "
                    f"ratio {r['ratio']:.2f} (target >= 0.9)",
                    flush=True,
                )
        finally:
            server.kill()
    if args.only in (None, "vllm"):
        r = vllm(args.rows, args.shards, args.max_tokens)
        print(
            f"vLLM {r['rows']} prompts: one LLM.generate {r['one_call_tok_s']:.1f} tok/s, "
            f"runner at {r['shards']} shards {r['runner_tok_s']:.1f} tok/s, ratio {r['ratio']:.3f} (target >= 0.97)",
            flush=True,
        )

    if args.only in (None, "rerun"):
        sys.path.insert(0, str(Path(__file__).parent))
        import rerun

        rerun.main(["--imports", "0"])


if __name__ == "__main__":
    main()
