"""Weight memory: counted from safetensors headers or a config, else from the preset table; never loaded."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
from safetensors.numpy import save_file

from magpie_hf.models.presets import PRESETS
from magpie_hf.models.sizes import known_parameters_billion, weight_bytes

# HuggingFaceTB/SmolLM2-135M's config.json (the sizes): 134,515,008 parameters.
SMOLLM2_CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "hidden_size": 576,
    "intermediate_size": 1536,
    "num_attention_heads": 9,
    "num_hidden_layers": 30,
    "num_key_value_heads": 3,
    "tie_word_embeddings": True,
    "torch_dtype": "bfloat16",
    "vocab_size": 49152,
}


def test_safetensors_headers_count_exactly(tmp_path):
    save_file({"embed": np.zeros((10, 4), np.float32), "norm": np.zeros(4, np.float32)}, tmp_path / "a.safetensors")
    save_file({"head": np.zeros((3, 2, 5), np.float16)}, tmp_path / "b.safetensors", metadata={"format": "pt"})
    (tmp_path / "config.json").write_text(json.dumps(SMOLLM2_CONFIG))  # counted from the weights, not the config
    assert weight_bytes(str(tmp_path), "float32", None) == ((40 + 4 + 30) * 4, "local config")
    assert weight_bytes(str(tmp_path), "auto", None) == ((40 + 4 + 30) * 2, "local config")  # config: bfloat16


def test_safetensors_index_names_the_files(tmp_path):
    """A folder with both sharded and consolidated weights (Mistral's) counts the index's files once."""
    save_file({"w": np.zeros((2, 3), np.float32)}, tmp_path / "model-00001-of-00001.safetensors")
    save_file({"w": np.zeros((2, 3), np.float32)}, tmp_path / "consolidated.safetensors")
    index = {"weight_map": {"w": "model-00001-of-00001.safetensors"}}
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    assert weight_bytes(str(tmp_path), "bfloat16", None) == (12, "local config")


def test_config_formula_counts_a_known_model(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(SMOLLM2_CONFIG))
    count, source = weight_bytes(str(tmp_path), "bfloat16", None)
    assert source == "local config"
    assert count == pytest.approx(2 * 134_515_008, rel=0.05)


def test_auto_loads_a_float32_config_as_16_bit(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(SMOLLM2_CONFIG | {"torch_dtype": "float32"}))
    assert weight_bytes(str(tmp_path), "auto", None) == weight_bytes(str(tmp_path), "bfloat16", None)


def test_a_folder_it_cannot_count(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "mystery"}))
    assert weight_bytes(str(tmp_path), "auto", None) == (None, "unknown")


def test_hub_id_uses_the_preset_count():
    qwq = PRESETS["qwq-32b"]
    assert weight_bytes(qwq.model_id, "bfloat16", qwq.parameters_billion) == (65_600_000_000, "preset")
    fp4 = PRESETS["r1-0528-fp4"]
    assert weight_bytes(fp4.model_id, fp4.weight_dtype, fp4.parameters_billion) == (335_500_000_000, "preset")


def test_unknown_hub_id():
    assert weight_bytes("acme/unlisted", "auto", None) == (None, "unknown")


def test_unknown_dtype_is_refused():
    with pytest.raises(ValueError, match="unknown dtype 'int3'"):
        weight_bytes("acme/unlisted", "int3", 1.0)


def test_every_preset_has_a_count():
    assert all(p.parameters_billion for p in PRESETS.values())


def test_counts_change_no_fingerprint():
    qwq = PRESETS["qwq-32b"]
    resized = replace(qwq, parameters_billion=1.0, weight_dtype="fp8")
    assert resized == qwq and resized.fingerprint() == qwq.fingerprint()
    assert "parameters_billion" not in qwq.fingerprint()


def test_known_non_preset_models():
    assert known_parameters_billion("RLHFlow/ArmoRM-Llama3-8B-v0.1") == 7.5
    assert known_parameters_billion("sentence-transformers/all-MiniLM-L6-v2") == 0.0227
    assert known_parameters_billion("acme/unlisted") is None


def test_no_torch_or_transformers_imported():
    code = "import sys, magpie_hf.models.sizes; print(sorted({'torch', 'transformers'} & set(sys.modules)))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "[]\n"
