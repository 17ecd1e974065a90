"""TIR: tool-integrated reasoning. Solutions that write Python, run it, read its output and go on.

As NeMo-Skills' code-execution generation (`code_execution=true`, its openmath code
tags by default): a solution is generated until a code block closes (`code_end` is a
stop string); the block runs in the run's sandbox (a separate process with limits,
earlier blocks of the same solution run first, as notebook cells); its output is
appended between `code_output_begin` and `code_output_end`, with how many executions
remain (`add_remaining_code_executions`); and the solution goes on in a new request
on the whole transcript, whose prefix the engine reuses (vLLM's prefix caching). At
most `max_code_executions` blocks run per solution; `max_tokens` bounds what it
generates over all its requests. Each round sends every unfinished solution of the
shard in one engine call; the runner streams shards, so while one shard's code runs,
the others' requests keep the engine busy.

Input columns: `id`, and the `{column}` placeholders of `prompt` (`{total_code_executions}`
is `max_code_executions`, not a column).
Output columns (`<label>` is the entry's label), lists over each row's `n` solutions:
    <label>: the transcripts: reasoning, code blocks, their outputs, the rest of the solution.
    <label>_finish_reasons, <label>_tokens, <label>_config: as the sample stage's (tokens over all requests).
    <label>_code_executions: blocks run. <label>_code_errors: blocks that failed (an exception, memory,
        an output flood, a crash, a blocked call). <label>_code_timeouts: blocks that ran out of time.
The run report counts `code_executions`, `code_errors` and `code_timeouts`.

Example:
    - stage: tir
      label: solver
      n: 4
      max_code_executions: 4
      sandbox: {wall_seconds: 10, memory_mb: 2048}
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from pydantic import Field

from magpie_hf.core.stage import placeholders, stage
from magpie_hf.engines import PROMPT_TOO_LONG, Sampling
from magpie_hf.sandbox import Execution, SandboxLimits
from magpie_hf.stages.prompting import generation_config
from magpie_hf.stages.sample import SampleConfig, kept_text, sample_requests
from magpie_hf.stages.sample import outputs as sample_outputs

if TYPE_CHECKING:
    from magpie_hf.run.context import BoundModel

OPENMATH_TIR = (  # NeMo-Skills' openmath/tir prompt
    "Solve the following math problem, integrating natural language reasoning with Python code executions.\n"
    "You may perform up to {total_code_executions} Python code calls to assist your reasoning.\n"
    "Make sure to put the answer (and only answer) inside \\boxed{}.\n\n{problem}"
)
REMAINING = (  # NeMo-Skills' format_code_output, add_remaining_code_executions
    "```system\nRemaining code executions: {remaining}. You will not be able to call code when you run out of "
    "executions, so use it wisely. Note that you can still continue solving the problem without code after that.\n"
    "```\n"
)
NONE_REMAINING = (
    "```system\nYou have run out of code executions! You can no longer write or execute code. Now you should "
    "continue solving the problem by relying on your mathematical reasoning and analytical skills.\n```\n"
)
COUNTED = ("code_executions", "code_errors", "code_timeouts")
ALLOWED = "total_code_executions"  # the prompt placeholder for the executions allowed, not a column


class TirConfig(SampleConfig):
    """The sample stage's settings, the code tags (NeMo-Skills' openmath ones), the executions and the sandbox."""

    prompt: str = OPENMATH_TIR
    max_tokens: int = Field(default=16384, gt=0)
    max_code_executions: int = Field(default=8, ge=0)
    add_remaining_code_executions: bool = True
    code_begin: str = Field(default="<tool_call>", min_length=1)
    code_end: str = Field(default="</tool_call>", min_length=1)
    code_output_begin: str = "\n```output\n"
    code_output_end: str = "```\n"
    sandbox: SandboxLimits = Field(default_factory=SandboxLimits)


@dataclass
class Solution:
    """One solution being written: its transcript so far and what its code did."""

    prompt: str
    sampling: Sampling
    text: str = ""
    tokens: int = 0
    finish_reason: str = "stop"
    cells: list[str] = field(default_factory=list)  # its blocks that ran to the end: the sandbox's history
    code_executions: int = 0
    code_errors: int = 0
    code_timeouts: int = 0
    done: bool = False


def outputs(cfg: TirConfig) -> list[str]:
    return [*sample_outputs(cfg), *(f"{cfg.label}_{name}" for name in COUNTED)]


def inputs(cfg: TirConfig) -> list[str]:
    return ["id", *(p for p in placeholders(cfg.prompt) if p != ALLOWED)]


def pending_code(text: str, cfg: TirConfig) -> str | None:
    """The code of the block `text` ends inside (not closed yet) or ends by closing; None when there is none."""
    start = text.rfind(cfg.code_begin)
    if start < 0:
        return None
    code = text[start + len(cfg.code_begin) :]
    closed = code.find(cfg.code_end)
    if closed < 0:
        return code.strip("\n")
    return code[:closed].strip("\n") if not code[closed + len(cfg.code_end) :].strip() else None


def code_output(execution: Execution, remaining: int | None, cfg: TirConfig) -> str:
    """What follows a block in the transcript: its output between the output tags, then what remains."""
    text = execution.text
    if text and not text.endswith("\n"):
        text += "\n"
    note = "" if remaining is None else REMAINING.format(remaining=remaining) if remaining > 0 else NONE_REMAINING
    return f"{cfg.code_output_begin}{text}{cfg.code_output_end}{note}"


def generate_round(model: BoundModel, active: list[Solution], owners: list[str] | None, cfg: TirConfig) -> list[str]:
    """One request per active solution (all in one engine call); appends the replies; the code to run, per solution.

    `owners` (the row ids) on the first round only: a row whose prompt fails there is dropped;
    a later request that no longer fits the context ends its solution as cut off (`length`).
    """
    budgets = [replace(s.sampling, max_tokens=cfg.max_tokens - s.tokens) for s in active]
    outs = model.generate([s.prompt + s.text for s in active], budgets, ids=owners)
    codes = []
    for solution, out in zip(active, outs):
        reply = out[0]
        solution.text += reply.text
        solution.tokens += reply.num_tokens
        solution.finish_reason = "length" if reply.finish_reason == PROMPT_TOO_LONG else reply.finish_reason
        code = pending_code(solution.text, cfg) if solution.finish_reason == "stop" else None
        if code is not None and not solution.text.endswith(cfg.code_end):
            solution.text += cfg.code_end  # the stop string, which the engine leaves out
        solution.done = code is None or solution.code_executions >= cfg.max_code_executions
        solution.done |= solution.tokens >= cfg.max_tokens
        codes.append(code)
    return codes


def execute(model: BoundModel, pending: list[tuple[Solution, str]], cfg: TirConfig) -> None:
    """Run each solution's new block in the sandbox (at once, within its pool) and append the outputs."""
    sandbox = model.sandbox(cfg.sandbox)
    with ThreadPoolExecutor(max_workers=max(1, min(len(pending), sandbox.workers))) as pool:
        executions = list(pool.map(lambda job: sandbox.run(job[1], history=job[0].cells), pending))
    for (solution, code), execution in zip(pending, executions):
        solution.code_executions += 1
        solution.code_timeouts += execution.status == "timeout"
        solution.code_errors += execution.status not in ("completed", "timeout")
        if execution.status == "completed":
            solution.cells.append(code)
        remaining = cfg.max_code_executions - solution.code_executions if cfg.add_remaining_code_executions else None
        solution.text += code_output(execution, remaining, cfg)


@stage(
    "tir",
    config=TirConfig,
    inputs=inputs,
    outputs=outputs,
    requests=lambda c: c.n * (c.max_code_executions + 1),  # one per solution and round
)
def tir(batch: dict[str, list], cfg: TirConfig, model: BoundModel) -> dict[str, list]:
    """`cfg.n` tool-integrated solutions per row, code run between requests; columns prefixed with the label."""
    values = {ALLOWED: cfg.max_code_executions}
    prompts, sampling, template = sample_requests(batch, cfg, model, values, stop=(cfg.code_end,))
    solutions = [
        Solution(p, replace(s, n=1, seed=(s.seed + k) % 2**31)) for p, s in zip(prompts, sampling) for k in range(cfg.n)
    ]
    owners = [row_id for row_id in batch["id"] for _ in range(cfg.n)]
    for round_ in range(cfg.max_code_executions + 1):
        active = [s for s in solutions if not s.done]
        if not active:
            break
        codes = generate_round(model, active, owners if round_ == 0 else None, cfg)
        pending = [(s, code) for s, code in zip(active, codes) if not s.done]
        if pending:
            execute(model, pending, cfg)
    model.usage.counters.update({name: sum(getattr(s, name) for s in solutions) for name in COUNTED})
    per_row = [solutions[i : i + cfg.n] for i in range(0, len(solutions), cfg.n)]
    out = {
        cfg.label: [[kept_text(p, s.text, cfg.strip_thinking) for s in row] for p, row in zip(prompts, per_row)],
        f"{cfg.label}_finish_reasons": [[s.finish_reason for s in row] for row in per_row],
        f"{cfg.label}_tokens": [[s.tokens for s in row] for row in per_row],
        f"{cfg.label}_config": [generation_config(model, template, s) for s in sampling],
    }
    out.update({f"{cfg.label}_{name}": [[getattr(s, name) for s in row] for row in per_row] for name in COUNTED})
    return out
