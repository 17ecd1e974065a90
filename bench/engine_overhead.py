"""What the runner costs on top of raw vLLM, measured side by side in one process.

The same 256 Magpie prompts (per-row seeds, max_tokens 128) are generated
(a) by `vllm.LLM.generate` directly and (b) through the runner's instructions
stage (sharding, Arrow writes, done markers). Prints tok/s of each and (b)/(a);
the target is >= 0.95.

    python bench/engine_overhead.py [--rows 256] [--max-tokens 128] [--repeats 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from magpie_hf.core.recipe import Recipe
from magpie_hf.core.seeds import row_seed
from magpie_hf.models.presets import resolve_model
from magpie_hf.run.context import RunContext
from magpie_hf.run.runner import run_stages, source_rows


def raw_vllm(engine, prompt: str, seeds: list[int], max_tokens: int, stop_ids: tuple[int, ...]) -> tuple[int, float]:
    from vllm import SamplingParams
    from vllm.inputs import TokensPrompt

    ids = engine.tokenizer.encode(prompt, add_special_tokens=False)
    params = [
        SamplingParams(temperature=1.0, top_p=1.0, max_tokens=max_tokens, stop_token_ids=list(stop_ids), seed=s)
        for s in seeds
    ]
    start = time.perf_counter()
    outputs = engine.llm.generate([TokensPrompt(prompt_token_ids=ids)] * len(seeds), params, use_tqdm=False)
    seconds = time.perf_counter() - start
    return sum(len(c.token_ids) for o in outputs for c in o.outputs), seconds


def through_runner(recipe: Recipe, model, rows: int, run: RunContext) -> tuple[int, float]:
    data, fp = source_rows(recipe.domain, rows)
    with tempfile.TemporaryDirectory() as run_dir:
        start = time.perf_counter()
        result = run_stages(data, fp, recipe.stage_entries(), model, Path(run_dir), recipe.shard_size, run=run)
        seconds = time.perf_counter() - start
    return result.reports[0].generated_tokens, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=256)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    model = resolve_model("embedded")
    system = "You are a professor who writes challenging algebra problems."
    recipe = Recipe(
        name="bench",
        domain="algebra",
        count=args.rows,
        seed=1234,
        shard_size=args.rows,
        stages=[{"stage": "instructions", "system_prompt": system, "temperature": 1.0, "max_tokens": args.max_tokens}],
    )
    run = RunContext()  # one engine for both sides
    engine = run.engine(model)
    prompt = model.magpie_prefix(system)

    data, _ = source_rows(recipe.domain, args.rows)
    seeds = [row_seed(recipe.seed, i) for i in data["id"]]
    raw_vllm(engine, prompt, seeds[:16], 16, model.stop_token_ids)  # warm-up
    totals = {"raw": [0, 0.0], "runner": [0, 0.0]}
    for _ in range(args.repeats):  # interleaved, so drift in machine load hits both sides alike
        for name, measure in (
            ("raw", lambda: raw_vllm(engine, prompt, seeds, args.max_tokens, model.stop_token_ids)),
            ("runner", lambda: through_runner(recipe, model, args.rows, run)),
        ):
            tokens, seconds = measure()
            totals[name][0] += tokens
            totals[name][1] += seconds
    rate = {name: tokens / seconds for name, (tokens, seconds) in totals.items()}
    print(f"rows={args.rows} max_tokens={args.max_tokens} repeats={args.repeats}")
    print(f"(a) raw vllm.LLM.generate : {rate['raw']:8.1f} tok/s ({totals['raw'][0]} tokens)")
    print(f"(b) runner instructions   : {rate['runner']:8.1f} tok/s ({totals['runner'][0]} tokens)")
    print(f"ratio (b)/(a)             : {rate['runner'] / rate['raw']:.3f}  (target >= 0.95)")
    run.close()


if __name__ == "__main__":
    main()
