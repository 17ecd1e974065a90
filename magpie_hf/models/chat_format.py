"""A model's chat facts, derived from its chat template: the Magpie prefix and where a turn ends.

The template is rendered around sentinel messages and cut at them, so the
prefix is exactly the text the model was trained to see before a user's words.
The stop markers are the tag-like pieces (`<|im_end|>`, `<｜Assistant｜>`, ...)
the template writes between the user's words and the assistant's: a Magpie
generation that reaches one has finished the question.

Example:
    >>> def chatml(messages, add_generation_prompt):
    ...     text = "".join(f"<|im_start|>{m['role']}\\n{m['content']}<|im_end|>\\n" for m in messages)
    ...     return text + ("<|im_start|>assistant\\n" if add_generation_prompt else "")
    >>> facts = derive(chatml)
    >>> facts.prefix_system, facts.stop
    ('<|im_start|>system\\n{system}<|im_end|>\\n<|im_start|>user\\n', ('<|im_end|>', '<|im_start|>'))
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

USER = "MAGPIEUSERSENTINEL"
SYSTEM = "MAGPIESYSTEMSENTINEL"
MARKER = re.compile(r"<[^<>\s]{1,64}>")
THINK = re.compile(r"</?think>")

Render = Callable[[list[dict], bool], str]


class ChatPrompt(str):
    """A chat rendered by the model's template that remembers its messages.

    It is the rendered text wherever a string is expected (local engines
    tokenize it); an API engine sends `messages` to the chat endpoint instead,
    where the server applies the same template.
    """

    messages: list[dict[str, str]]

    def __new__(cls, text: str, messages: list[dict[str, str]]) -> ChatPrompt:
        prompt = super().__new__(cls, text)
        prompt.messages = messages
        return prompt


@dataclass(frozen=True)
class ChatFacts:
    """What a chat template says about the turns.

    Attributes:
        prefix_plain: text before the user's message when there is no system prompt.
        prefix_system: the same with a system prompt, `{system}` where it goes; None if the template has no system turn.
        stop: markers between the user's message and the assistant's reply (think tags excluded).
        reasoning: the generation prompt opens a `<think>` block.
    """

    prefix_plain: str
    prefix_system: str | None
    stop: tuple[str, ...]
    reasoning: bool


def derive(render: Render) -> ChatFacts:
    """Render a one-turn chat around sentinels and cut: `render(messages, add_generation_prompt) -> text`."""
    user = {"role": "user", "content": USER}
    plain = render([user], False)
    if USER not in plain:
        raise ValueError("the chat template does not render the user's message")
    prefix_system = None
    try:
        with_system = render([{"role": "system", "content": SYSTEM}, user], False)
    except Exception:  # noqa: BLE001 - templates raise_exception() on a role they do not support
        with_system = ""
    head = with_system[: with_system.find(USER)]
    if SYSTEM in head:
        prefix_system = head.replace(SYSTEM, "{system}")
    full = render([user], True)
    after = full[full.index(USER) + len(USER) :]
    stop = [m for m in MARKER.findall(after) if not THINK.fullmatch(m)]
    if not stop:  # a template of plain words ("User: ... Assistant:"): the first line after the message
        stop = [line.strip() for line in after.splitlines() if line.strip()][:1]
    return ChatFacts(
        prefix_plain=plain[: plain.index(USER)],
        prefix_system=prefix_system,
        stop=tuple(dict.fromkeys(stop)),
        reasoning="<think>" in after,
    )


def single_token_ids(tokenizer, texts: tuple[str, ...]) -> list[int]:
    """Ids of the texts that are one token each in this tokenizer (special turn markers are; plain text is not)."""
    ids = []
    for text in texts:
        encoded = tokenizer.encode(text, add_special_tokens=False)
        if len(encoded) == 1:
            ids.append(encoded[0])
    return ids


def eos_ids(tokenizer, generation_config) -> list[int]:
    """The tokenizer's EOS and the `generation_config.json` EOS ids (an int or a list there)."""
    ids = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    configured = getattr(generation_config, "eos_token_id", None)
    ids += configured if isinstance(configured, list) else [configured] if configured is not None else []
    return ids

