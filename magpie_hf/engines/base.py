"""The one interface every generation backend implements."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Protocol, Sequence

Prompt = str | list[int]  # rendered text (`models.chat_format.ChatPrompt` where it came from messages) or token ids


@dataclass(frozen=True)
class Sampling:
    """Sampling parameters for one request; `seed=None` lets the engine choose."""

    n: int = 1
    temperature: float = 1.0
    top_p: float = 1.0
    max_tokens: int = 256
    stop: tuple[str, ...] = ()
    stop_token_ids: tuple[int, ...] = ()
    seed: int | None = None
    logprobs: int = 0  # >0: return that many top alternatives of the first generated token
    logprob_token_ids: tuple[int, ...] = ()  # also these tokens' logprobs at the first position, ranked or not

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Completion:
    """One generated continuation of a prompt."""

    text: str
    num_tokens: int
    finish_reason: str  # "stop" (end of turn or a stop string) or "length"
    first_token_logprobs: dict[str, float] = field(default_factory=dict)  # decoded token -> logprob


@dataclass
class Usage:
    """Tokens, requests and model-load seconds of one run (its context holds it), read by the runner per shard."""

    prompt_tokens: int = 0
    generated_tokens: int = 0
    requests: int = 0
    load_seconds: float = 0.0

    def add(self, prompt_tokens: int, generated_tokens: int, requests: int = 1) -> None:
        self.prompt_tokens += prompt_tokens
        self.generated_tokens += generated_tokens
        self.requests += requests


@dataclass
class EngineInfo:
    """What produced a completion, stored in each row's provenance."""

    backend: str
    model: str
    revision: str | None
    extra: dict = field(default_factory=dict)


class Engine(Protocol):
    """A loaded model that turns prompts into completions.

    Text prompts are complete rendered chat strings: engines never add special
    tokens of their own (no second BOS).
    """

    info: EngineInfo
    # An engine that batches the requests of concurrent `generate` calls (from several threads)
    # sets `capacity`: how many requests it runs at once. The runner then streams a stage's shards into it.

    def generate(self, prompts: Sequence[Prompt], sampling: Sampling | Sequence[Sampling]) -> list[list[Completion]]:
        """Return, per prompt, `sampling.n` completions in order."""
        ...


def per_prompt(sampling: Sampling | Sequence[Sampling], count: int) -> list[Sampling]:
    """Expand one Sampling to a list, or check a given list has one per prompt."""
    if isinstance(sampling, Sampling):
        return [sampling] * count
    if len(sampling) != count:
        raise ValueError(f"got {len(sampling)} sampling parameter sets for {count} prompts")
    return list(sampling)
