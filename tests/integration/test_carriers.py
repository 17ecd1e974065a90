"""The embedded models are materialised once, atomically, under the cache dir."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from transformers import AutoTokenizer

from magpie_hf.models import carriers


def test_smollm2_folder_is_a_plain_hf_model_with_chatml(embedded):
    path = Path(embedded.model_path())
    config = json.loads((path / "config.json").read_text())
    assert config["model_type"] == "llama" and "quantization_config" not in config
    tok = AutoTokenizer.from_pretrained(path)
    text = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)
    assert text.endswith("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n")
    assert tok.eos_token == "<|im_end|>" and tok.eos_token_id == 2


def test_minilm_folder_has_weights():
    path = carriers.minilm_path()
    assert (path / "model.safetensors").exists() and (path / "tokenizer.json").exists()


CHILD = """
import os, sys, time
from pathlib import Path
os.environ["MAGPIE_HF_CACHE"] = sys.argv[1]
from magpie_hf.models.carriers import _materialise

def slow_build(out: Path) -> None:
    (out / "part").write_text("x" * 1000)
    time.sleep(0.5)
    (out / "config.json").write_text("{}")

print(_materialise("toy", slow_build))
"""


def test_concurrent_first_use_builds_once_and_completely(tmp_path):
    children = [
        subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path)], stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    paths = [child.communicate(timeout=120)[0].strip() for child in children]
    assert len(set(paths)) == 1 and all(child.returncode == 0 for child in children)
    target = Path(paths[0])
    assert sorted(p.name for p in target.iterdir()) == ["config.json", "part"]
    leftovers = [p.name for p in (tmp_path / "models").iterdir() if p.name.startswith(".")]
    assert leftovers == []
