"""A scripted engine for unit tests of stage logic: fixed replies per prompt, no model.

Replies are chosen by the first rule whose pattern occurs in the rendered
prompt (a plain substring, or a compiled regex); the default answers the rest.
A reply may be a string, a list (one per `n`), or a function of the prompt.
`first_token_logprobs` for a judge is given by `logprobs` rules the same way.

Example:
    >>> engine = ScriptedEngine({"2+2": "\\\\boxed{4}"}, default="I don't know")
    >>> engine.generate(["... What is 2+2? ..."], Sampling(n=1))[0][0].text
    '\\\\boxed{4}'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Sequence

from magpie_hf.engines.base import Completion, EngineInfo, Prompt, Sampling, Usage, per_prompt

Reply = str | list[str] | Callable[[str], str]


@dataclass
class ScriptedEngine:
    """Answers prompts from rules; records every prompt it was given in `prompts`."""

    rules: dict[str | re.Pattern, Reply] = field(default_factory=dict)
    default: Reply = ""
    logprobs: dict[str | re.Pattern, dict[str, float]] = field(default_factory=dict)
    finish_reason: str = "stop"
    prompts: list[str] = field(default_factory=list)
    info: EngineInfo = field(default_factory=lambda: EngineInfo(backend="fake", model="scripted", revision=None))

    def _match(self, table: dict, prompt: str, default):
        for pattern, value in table.items():
            hit = pattern.search(prompt) if isinstance(pattern, re.Pattern) else pattern in prompt
            if hit:
                return value
        return default

    def generate(
        self, prompts: Sequence[Prompt], sampling: Sampling | Sequence[Sampling], usage: Usage | None = None
    ) -> list[list[Completion]]:
        results = []
        for prompt, s in zip(prompts, per_prompt(sampling, len(prompts))):
            text = prompt if isinstance(prompt, str) else " ".join(map(str, prompt))
            self.prompts.append(text)
            reply = self._match(self.rules, text, self.default)
            replies = [reply(text) if callable(reply) else reply for _ in range(s.n)]
            if isinstance(reply, list):
                replies = [reply[k % len(reply)] for k in range(s.n)]
            logprobs = self._match(self.logprobs, text, {}) if s.logprobs else {}
            completions = [
                Completion(r, len(r.split()), self.finish_reason, first_token_logprobs=logprobs) for r in replies
            ]
            results.append(completions)
        return results
