"""A recipe's `engine:` block: the backend, the vLLM engine arguments a user may set, or an API endpoint.

The vLLM fields are named as in `vllm.EngineArgs` (a test holds them to it);
unset fields keep the preset's defaults (`tensor_parallel_size`,
`max_model_len`) or vLLM's. A plain string is the backend alone (`engine: vllm`).
`backend: openai` sends the requests to an OpenAI-compatible server instead
(`base_url`, the key's environment variable, the served model's name, how
many requests run at once, how many choices one request may ask for, and the
provider's request and token budgets per minute). `share_device: true` lets the run keep heavy
models side by side on one device (a big GPU and small models); by default a
model that loads onto a device first releases the one there.

`price` (backend openai) is what the endpoint charges per million prompt and
generated tokens: `plan` shows the cost at most, the summary, the manifest and
the card the actual cost.

Example:
    engine:
      backend: vllm
      tensor_parallel_size: 4
      gpu_memory_utilization: 0.95
      max_model_len: 16384

    engine:
      backend: openai
      base_url: https://integrate.api.nvidia.com/v1
      api_key_env: NVIDIA_API_KEY
      model: qwen/qwen2.5-7b-instruct
      max_concurrency: 32
      requests_per_minute: 40
      tokens_per_minute: 100000
      price: {input_per_million: 0.2, output_per_million: 0.6}
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

API_FIELDS = (
    "base_url",
    "api_key_env",
    "model",
    "max_concurrency",
    "n_per_request",
    "requests_per_minute",
    "tokens_per_minute",
    "price",
)
RUN_FIELDS = ("share_device", "price")  # the run's model policy and its bill, not engine arguments


class Price(BaseModel):
    """What an endpoint charges per million prompt (input) and generated (output) tokens, in any currency."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input_per_million: float = Field(ge=0)
    output_per_million: float = Field(ge=0)

    def cost(self, prompt_tokens: int, generated_tokens: int) -> float:
        """The price of `prompt_tokens` in and `generated_tokens` out."""
        return (prompt_tokens * self.input_per_million + generated_tokens * self.output_per_million) / 1e6


class EngineSettings(BaseModel):
    """The backend (a name in `magpie_hf.engines.BACKENDS`), vLLM engine arguments, or an API endpoint."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: str = "vllm"
    tensor_parallel_size: int | None = Field(default=None, ge=1)
    gpu_memory_utilization: float | None = Field(default=None, gt=0, le=1)
    max_model_len: int | None = Field(default=None, gt=0)
    dtype: Literal["auto", "half", "float16", "bfloat16", "float", "float32"] | None = None
    quantization: str | None = None
    enable_prefix_caching: bool | None = None
    max_num_seqs: int | None = Field(default=None, ge=1)
    base_url: str | None = None  # backend openai: e.g. http://127.0.0.1:8000/v1
    api_key_env: str | None = None  # backend openai: the environment variable holding the key; none: no key sent
    model: str | None = None  # backend openai: the served model's name; default: the preset's model id or folder
    max_concurrency: int | None = Field(default=None, ge=1)  # backend openai: requests in flight (default 16)
    n_per_request: int | None = Field(default=None, ge=1)  # backend openai: choices per request (1: server ignores n)
    requests_per_minute: float | None = Field(default=None, gt=0)  # backend openai: client-side request budget
    tokens_per_minute: float | None = Field(default=None, gt=0)  # backend openai: client-side token budget
    share_device: bool = False  # heavy models may share a device (the run's policy, not an engine argument)
    price: Price | None = None  # backend openai: per million tokens, for the cost shown (none: no cost shown)

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

    @model_validator(mode="after")
    def _api_fields_with_the_api_backend(self) -> "EngineSettings":
        given = [k for k in API_FIELDS if getattr(self, k) is not None]
        if self.backend == "openai" and not self.base_url:
            raise ValueError("backend openai needs base_url, e.g. base_url: http://127.0.0.1:8000/v1")
        if self.backend != "openai" and given:
            raise ValueError(f"{given[0]} applies to backend openai only (this block's backend: {self.backend})")
        return self

    def engine_args(self) -> tuple[tuple[str, Any], ...]:
        """The set arguments, as `Preset.engine_args` holds them."""
        return tuple((k, v) for k, v in self.model_dump(exclude={"backend", *RUN_FIELDS}).items() if v is not None)
