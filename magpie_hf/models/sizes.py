"""How much memory a model's weights take, without loading it (no torch, no transformers).

A local folder is counted: the tensor shapes in its safetensors headers, else
its `config.json` through the decoder-transformer formula. A Hub id has only
what a table says: a preset's `parameters_billion`, or `sizes.yaml` for the
other models a recipe names (reward models, the embedder).

Example:
    >>> weight_bytes("Qwen/QwQ-32B", "bfloat16", 32.8)
    (65600000000, 'preset')
    >>> known_parameters_billion("sentence-transformers/all-MiniLM-L6-v2")
    0.0227
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from types import MappingProxyType

import yaml

SIZES_FILE = Path(__file__).with_name("sizes.yaml")
# Bytes per parameter. `float`/`float32` is what the engine is told; under `auto`,
# vLLM loads a float32 checkpoint as 16-bit (see `_auto_bytes`).
DTYPE_BYTES = MappingProxyType(
    {
        "bfloat16": 2,
        "float16": 2,
        "half": 2,
        "float32": 4,
        "float": 4,
        "fp8": 1,
        "int8": 1,
        "fp4": 0.5,
    }
)


def known_parameters_billion(model_id: str) -> float | None:
    """Parameters (billions) of a non-preset model a recipe names, from `sizes.yaml`; None if not listed.

    Example:
        >>> known_parameters_billion("RLHFlow/ArmoRM-Llama3-8B-v0.1")
        7.5
    """
    return yaml.safe_load(SIZES_FILE.read_text()).get(model_id)


def weight_bytes(model_path_or_id: str, dtype: str, parameters_billion: float | None) -> tuple[int | None, str]:
    """Estimated weight memory in bytes, and where the estimate came from.

    Args:
        model_path_or_id: a local model folder or a Hub id.
        dtype: `auto` (the config's dtype for a folder, 16-bit otherwise), a
            `DTYPE_BYTES` name, or a pre-quantized checkpoint's weight dtype
            (`fp8`, `fp4`).
        parameters_billion: the preset's (or `known_parameters_billion`) count,
            used for a Hub id.

    Returns:
        (bytes, "local config") for a folder it can count, (bytes, "preset")
        for a Hub id with a count, else (None, "unknown").

    Raises:
        ValueError: an unknown dtype.
    """
    if dtype != "auto" and dtype not in DTYPE_BYTES:
        raise ValueError(f"unknown dtype '{dtype}': auto or one of {', '.join(DTYPE_BYTES)}")
    folder = Path(model_path_or_id).expanduser()
    if folder.is_dir():
        config = _config(folder)
        parameters = _safetensors_parameters(folder) or _formula_parameters(config.get("text_config") or config)
        if parameters is None:
            return None, "unknown"
        return round(parameters * (_auto_bytes(config) if dtype == "auto" else DTYPE_BYTES[dtype])), "local config"
    if parameters_billion is None:
        return None, "unknown"
    return round(parameters_billion * 1e9 * (2 if dtype == "auto" else DTYPE_BYTES[dtype])), "preset"


def _config(folder: Path) -> dict:
    path = folder / "config.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def _auto_bytes(config: dict) -> float:
    """What vLLM's `auto` loads: the config's dtype, but 16-bit for a float32 (or unstated) one."""
    stated = config.get("dtype") or config.get("torch_dtype")
    return min(DTYPE_BYTES.get(stated, 2), 2)


def _safetensors_parameters(folder: Path) -> int | None:
    """Sum of the tensor sizes in the folder's safetensors headers (the index's files, if it has one)."""
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        files = [folder / name for name in set(json.loads(index.read_text())["weight_map"].values())]
    else:
        files = sorted(folder.glob("*.safetensors"))
    return sum(_header_parameters(path) for path in files) or None


def _header_parameters(path: Path) -> int:
    with path.open("rb") as handle:
        (length,) = struct.unpack("<Q", handle.read(8))
        header = json.loads(handle.read(length))
    return sum(math.prod(entry["shape"]) for name, entry in header.items() if name != "__metadata__")


def _formula_parameters(config: dict) -> int | None:
    """A decoder transformer's parameters from its config: embeddings, attention (GQA), gated MLP, norms.

    Embeddings count twice unless `tie_word_embeddings`; biases are left out.
    None when the config lacks a size it needs.
    """
    try:
        hidden, layers, vocab = config["hidden_size"], config["num_hidden_layers"], config["vocab_size"]
        heads, intermediate = config["num_attention_heads"], config["intermediate_size"]
    except KeyError:
        return None
    kv_heads = config.get("num_key_value_heads") or heads
    head_dim = config.get("head_dim") or hidden // heads
    embeddings = vocab * hidden * (1 if config.get("tie_word_embeddings") else 2)
    attention = 2 * hidden * heads * head_dim + 2 * hidden * kv_heads * head_dim
    mlp = 3 * hidden * intermediate
    return embeddings + layers * (attention + mlp + 2 * hidden) + hidden
