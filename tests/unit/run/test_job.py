"""A recipe set's merged export: problems that repeat one of an earlier domain are removed and counted."""

from __future__ import annotations

import json

import magpie_hf


def test_cross_domain_duplicates_leave_the_merged_configs_and_are_counted(tmp_path, scripted):
    model, engine = scripted
    shared = "Find all real x such that x^2 - 5x + 6 = 0?"
    problems = iter(  # one generate call of 4 Magpie prompts per domain: the first is the shared problem
        shared if k % 4 == 0 else f"Compute {k} times {k + 3}, then integrate t from 0 to {k}?" for k in range(99)
    )
    engine.rules["<|im_start|>assistant"] = "The roots are \\boxed{2} and \\boxed{3}."
    engine.default = lambda prompt: next(problems)
    out = magpie_hf.run_recipe(
        "magpie_math/all_domains",
        domains=["algebra", "calculus"],
        count=4,
        engine="fake",
        output=str(tmp_path / "all"),
        run_dir=str(tmp_path / "runs"),
        sets=["stages.candidates.n=2"],
    )
    manifest = json.loads((tmp_path / "all" / "manifest.json").read_text())
    pairs = manifest["cross_domain_duplicates"]
    assert pairs == {"calculus->algebra": 1}
    for domain in ("algebra", "calculus"):  # each domain's export beside the merged one, not in ./data
        assert json.loads((tmp_path / f"all_{domain}" / "manifest.json").read_text())["domain"] == domain
    kept = [row for split in out["candidates"].values() for row in split]
    assert sum(row["problem"] == shared for row in kept) == 1
    every = [row for split in out["instructions"].values() for row in split]
    assert sum(row["problem"] == shared and row["filter_reason"] is None for row in every) == 2  # as generated
