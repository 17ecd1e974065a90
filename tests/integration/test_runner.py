"""The runner on the real vLLM engine: Magpie rows with provenance and distinct per-row seeds, then reuse."""

from __future__ import annotations

from magpie_hf.core.recipe import Recipe
from magpie_hf.run.runner import run_stages, source_rows


def test_instructions_rows_keep_ids_and_provenance_then_reuse(tmp_path, embedded, run_context):
    recipe = Recipe(
        name="t",
        domain="algebra",
        count=6,
        seed=3,
        shard_size=2,
        stages=[{"stage": "instructions", "system_prompt": "You write short algebra problems.", "max_tokens": 16}],
    )
    data, fp = source_rows(recipe.domain, 6)
    result = run_stages(data, fp, recipe.stage_entries(), embedded, tmp_path, recipe.shard_size, run=run_context)
    rows = result.datasets["instructions"]
    assert rows["id"] == [f"algebra-{i:06d}" for i in range(6)]
    assert all(isinstance(t, str) for t in rows["problem"]) and len(set(rows["problem"])) > 1
    assert all(0 < n <= 16 for n in rows["problem_tokens"])
    prov = rows[0]["gen_input_configs"]
    assert prov["model"] == "HuggingFaceTB/SmolLM2-135M-Instruct" and prov["engine"] == "vllm"
    assert prov["template"].endswith("<|im_start|>user\n") and "short algebra" in prov["template"]
    report = result.reports[0]
    assert (report.shards_run, report.shards_reused, report.rows_out) == (3, 0, 6)
    assert report.generated_tokens == sum(rows["problem_tokens"])
    before = run_context.usage.generated_tokens
    again = run_stages(data, fp, recipe.stage_entries(), embedded, tmp_path, recipe.shard_size, run=run_context)
    assert run_context.usage.generated_tokens == before and again.datasets["instructions"]["problem"] == rows["problem"]
