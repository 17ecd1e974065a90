"""What the machine computes natively: decides the default dtypes of the engine and the embedder."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=1)
def cpu_bf16() -> bool | None:
    """Whether the CPU multiplies bfloat16 natively (AVX512-BF16 or AMX); None where /proc/cpuinfo can't tell.

    Without those instructions bf16 matmuls are emulated and slower than float32
    (vLLM: 117 against 190 tok/s at batch 64 on an AVX512 CPU without BF16).
    """
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return None
    return "avx512_bf16" in flags or "amx_bf16" in flags


def visible_gpus() -> int:
    """NVIDIA GPUs this process may use, without importing torch: `CUDA_VISIBLE_DEVICES`, else the driver's list."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([d for d in visible.split(",") if d.strip() and not d.strip().startswith("-")])
    gpus = Path("/proc/driver/nvidia/gpus")
    return len(list(gpus.iterdir())) if gpus.is_dir() else 0
