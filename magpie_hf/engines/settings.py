"""A recipe's `engine:` block: the backend and the vLLM engine arguments a user may set.

Each field is named as in `vllm.EngineArgs` (a test holds them to it); unset
fields keep the preset's defaults (`tensor_parallel_size`, `max_model_len`) or
vLLM's. A plain string is the backend alone (`engine: vllm`).

Example:
    engine:
      backend: vllm
      tensor_parallel_size: 4
      gpu_memory_utilization: 0.95
      max_model_len: 16384
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class EngineSettings(BaseModel):
    """The backend (a name in `magpie_hf.engines.BACKENDS`) and vLLM engine arguments."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: str = "vllm"
    tensor_parallel_size: int | None = Field(default=None, ge=1)
    gpu_memory_utilization: float | None = Field(default=None, gt=0, le=1)
    max_model_len: int | None = Field(default=None, gt=0)
    dtype: Literal["auto", "half", "float16", "bfloat16", "float", "float32"] | None = None
    quantization: str | None = None
    enable_prefix_caching: bool | None = None
    max_num_seqs: int | None = Field(default=None, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _backend_alone(cls, value: Any) -> Any:
        return {"backend": value} if isinstance(value, str) else value

    @field_validator("backend")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        from magpie_hf.engines import BACKENDS  # noqa: PLC0415 - the registry may grow after import

        if value not in BACKENDS:
            raise ValueError(f"unknown engine '{value}'; allowed: {', '.join(BACKENDS)}")
        return value

    def engine_args(self) -> tuple[tuple[str, Any], ...]:
        """The set arguments, as `Preset.engine_args` holds them."""
        return tuple((k, v) for k, v in self.model_dump(exclude={"backend"}).items() if v is not None)
