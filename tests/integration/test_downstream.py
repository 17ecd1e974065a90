"""Our exports train as-is: verl's own RLHFDataset reads the critique config; TRL takes an SFT and a DPO step."""

from __future__ import annotations

import glob
import subprocess
import sys
from pathlib import Path

import pytest
from datasets import Dataset, load_dataset

from magpie_hf.core.pipeline import get_pipeline
from magpie_hf.pipelines.critique import critique_rows
from magpie_hf.pipelines.critique.critique import CritiqueConfig, build_critiques
from magpie_hf.publish.export import export_tables

ALGEBRA = Path("data/embedded_algebra")  # what `make algebra` writes (CI runs it before the tests)


def critique_export(folder: Path, embedded) -> Path:
    batch = {
        "id": ["math-000000", "math-000001"],
        "index": [0, 1],
        "domain": ["math", "math"],
        "problem": ["What is 2+2?", "What is 1/2 + 1/4?"],
        "answer": ["4", "3/4"],
        "a": [["so \\boxed{4}", "\\boxed{5}"], ["\\boxed{0.75}", "\\boxed{1}"]],
        "a_finish_reasons": [["stop", "stop"], ["stop", "stop"]],
        "a_correct": [[True, False], [True, False]],
        "a_answers": [["4", "5"], ["0.75", "1"]],
    }
    rows = Dataset.from_dict(build_critiques(batch, CritiqueConfig(columns=["a"]), embedded)).remove_columns(
        "filter_reason"
    )
    info = {"recipe": "t", "model": {"model_id": embedded.model_id, "name": "embedded", "engine": "vllm"}, "stages": []}
    export_tables({"critique": critique_rows(rows)}, info, folder, get_pipeline("critique"), 0.0, 0)
    return folder


def test_verl_rlhf_dataset_reads_and_tokenizes_the_critique_config(tmp_path, embedded):
    """verl's RLHFDataset (filtering overlong prompts tokenizes every row through its chat template), its
    collate_fn, then the chat template as verl's agent loop applies it to `raw_prompt`."""
    from omegaconf import OmegaConf
    from transformers import AutoTokenizer
    from verl.utils.dataset.rl_dataset import RLHFDataset, collate_fn

    folder = critique_export(tmp_path / "critique", embedded)
    files = sorted(glob.glob(str(folder / "critique" / "*" / "*.parquet")))
    tokenizer = AutoTokenizer.from_pretrained(embedded.model_path())
    config = OmegaConf.create(
        {"prompt_key": "prompt", "max_prompt_length": 1024, "filter_overlong_prompts": True, "cache_dir": str(tmp_path)}
    )
    dataset = RLHFDataset(files, tokenizer, config)
    assert len(dataset) == 4  # every row fits and survives verl's own filter
    batch = collate_fn([dataset[i] for i in range(len(dataset))])
    assert list(batch["data_source"]) == ["deepscaler_critique"] * 4
    assert {r["ground_truth"] for r in batch["reward_model"]} == {"right", "wrong"}
    ids = [tokenizer.apply_chat_template(list(chat), add_generation_prompt=True) for chat in batch["raw_prompt"]]
    ids = [x["input_ids"] if isinstance(x, dict) or hasattr(x, "keys") else x for x in ids]
    assert all(20 < len(x) <= 1024 for x in ids)
    assert "Student's solution" in tokenizer.decode(ids[0])


@pytest.fixture(scope="module")
def algebra_export(tmp_path_factory) -> Path:
    """`make algebra`'s export when it is there, else one made the same way."""
    if (ALGEBRA / "README.md").exists():
        return ALGEBRA
    out = tmp_path_factory.mktemp("algebra") / "export"
    cmd = [sys.executable, "-m", "magpie_hf.cli", "run", "recipes/magpie_math/algebra.yaml", "--count", "20"]
    proc = subprocess.run(
        [*cmd, "--output", str(out), "--run-dir", str(out.parent / "runs")], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out


@pytest.mark.e2e
def test_trl_takes_one_sft_and_one_dpo_step_on_the_export(algebra_export, tiny_chat_model, tmp_path):
    """The step is TRL's reading of our export (chat template, columns); the model is a tiny one with the embedded
    model's tokenizer and template, trained in float32 (the CPU's bfloat16 makes one step of any model take minutes)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer, SFTConfig, SFTTrainer

    tokenizer = AutoTokenizer.from_pretrained(tiny_chat_model)
    common = {
        "max_steps": 1,
        "per_device_train_batch_size": 2,
        "report_to": [],
        "use_cpu": True,
        "save_strategy": "no",
        "bf16": False,
    }
    sft = load_dataset(str(algebra_export), "sft", split="train")
    trainer = SFTTrainer(
        model=AutoModelForCausalLM.from_pretrained(tiny_chat_model),
        args=SFTConfig(output_dir=str(tmp_path / "sft"), max_length=256, **common),
        train_dataset=sft,
        processing_class=tokenizer,
    )
    assert trainer.train().global_step == 1
    preference = load_dataset(str(algebra_export), "preference", split="train")
    dpo = DPOTrainer(
        model=AutoModelForCausalLM.from_pretrained(tiny_chat_model),
        args=DPOConfig(output_dir=str(tmp_path / "dpo"), max_length=256, **common),
        train_dataset=preference,
        processing_class=tokenizer,
    )
    assert dpo.train().global_step == 1
