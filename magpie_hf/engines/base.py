"""The one interface every generation backend implements."""

from __future__ import annotations

from collections import Counter
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
    """Tokens, requests and model-load seconds of one run (its context holds it), read by the runner per shard.

    `requests` counts the requests the engine answered (an API engine's top-up
    requests for missing choices included); `retries` the requests an API engine
    sent again after a 429, a 5xx or a dropped connection, and `rate_limited`
    its 429 answers. `counters`: what a shard's model calls count besides (e.g.
    yes/no verdicts by source), summed by the runner into the stage report's counters.
    """

    prompt_tokens: int = 0
    generated_tokens: int = 0
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    load_seconds: float = 0.0
    counters: Counter = field(default_factory=Counter)

    def add(self, other: "Usage") -> None:
        """Add another count's tokens and requests (not its load seconds) to this one."""
        self.prompt_tokens += other.prompt_tokens
        self.generated_tokens += other.generated_tokens
        self.requests += other.requests
        self.retries += other.retries
        self.rate_limited += other.rate_limited


class EngineRefusal(RuntimeError):
    """The engine's server refused a request for good (a 4xx other than 429): a wrong model name, key or request."""


class PartialFailure(RuntimeError):
    """Some prompts of one `generate` call failed for good; the others were answered.

    Args:
        outputs: per prompt, its completions, or None where it failed.
        errors: the failures, in prompt order.
    """

    def __init__(self, outputs: list[list[Completion] | None], errors: list[BaseException]):
        super().__init__(f"{len(errors)} of {len(outputs)} prompts failed; the first: {errors[0]}")
        self.outputs, self.errors = outputs, errors


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

    def generate(
        self, prompts: Sequence[Prompt], sampling: Sampling | Sequence[Sampling], usage: Usage | None = None
    ) -> list[list[Completion]]:
        """Return, per prompt, `sampling.n` completions in order.

        An engine that talks to a server counts its requests, retries and 429s
        into `usage`; one that answers some prompts but not others raises
        `PartialFailure` with the answered ones.
        """
        ...


def per_prompt(sampling: Sampling | Sequence[Sampling], count: int) -> list[Sampling]:
    """Expand one Sampling to a list, or check a given list has one per prompt."""
    if isinstance(sampling, Sampling):
        return [sampling] * count
    if len(sampling) != count:
        raise ValueError(f"got {len(sampling)} sampling parameter sets for {count} prompts")
    return list(sampling)
