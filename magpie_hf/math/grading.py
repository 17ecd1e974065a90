"""Final-answer extraction and math-verify equivalence, with hard timeouts.

sympy can hang on pathological input. math-verify's own timeout uses
`signal.alarm` (main thread only): a few comparisons on the main thread run
in-process under such a timer; batches (and calls from other threads) go in
chunks to a process pool on every core, where each comparison runs under its
own timer in the worker. A comparison that overruns gets the verdict
`timeout`; a worker stuck where no signal reaches it is killed, the pool
replaced, and the run goes on.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import signal
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from enum import Enum

ANSWER_PHRASE = re.compile(
    r"(?:final answer|the answer is|answer:)\s*(?:is\s*)?[:：]?\s*(?P<answer>[^\n]+)", re.IGNORECASE
)


class Verdict(str, Enum):
    """Outcome of one comparison."""

    CORRECT = "correct"
    INCORRECT = "incorrect"
    UNPARSEABLE = "unparseable"
    TIMEOUT = "timeout"
    RESTATED = "restated_question"  # equal to the reference only because it repeats the question's expression

    @property
    def correct(self) -> bool | None:
        """True / False when math-verify decided, None when it could not (unparseable, timeout)."""
        return {Verdict.CORRECT: True, Verdict.INCORRECT: False, Verdict.RESTATED: False}.get(self)


def last_boxed(text: str) -> str | None:
    """Content of the last `\\boxed{...}` (or `\\fbox{...}`), nested braces included."""
    start = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    if start < 0:
        return None
    i = text.find("{", start)
    if i < 0:
        bare = re.match(r"\\boxed\s+([^\s$]+)", text[start:])
        return bare.group(1) if bare else None
    depth = 0
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return text[i + 1 : j]
    return None


def extract_answer(text: str) -> str | None:
    """The final answer of a solution: the last `\\boxed{}`, else "The answer is ..." / "Final Answer: ...".

    For reasoning models only the text after `</think>` counts.
    """
    if not text:
        return None
    text = text.rsplit("</think>", 1)[-1]
    boxed = last_boxed(text)
    if boxed is not None:
        return boxed.strip() or None
    matches = list(ANSWER_PHRASE.finditer(text))
    if not matches:
        return None
    answer = matches[-1].group("answer").strip().lstrip("*").strip().rstrip(".").strip()
    if answer.startswith("$") and answer.endswith("$") and len(answer) > 1:
        answer = answer.strip("$").strip()
    return answer or None


def _as_latex(answer: str) -> str:
    """math-verify parses bare `(x+1)^2` to nothing: give it a math environment."""
    if "$" in answer or "\\boxed" in answer or "\\(" in answer or "\\[" in answer:
        return answer
    return f"${answer}$"


def _compare(gold: str, predicted: str) -> Verdict:
    """One comparison, gold first, as math-verify expects; its own timeouts are off (the caller times out)."""
    import logging

    from math_verify import parse, verify

    logging.getLogger("math_verify").setLevel(logging.ERROR)
    gold_parsed = parse(_as_latex(gold), parsing_timeout=None)
    pred_parsed = parse(_as_latex(predicted), parsing_timeout=None)
    if not gold_parsed or not pred_parsed:
        return Verdict.UNPARSEABLE
    ok = verify(gold_parsed, pred_parsed, timeout_seconds=None)
    return Verdict.CORRECT if ok else Verdict.INCORRECT


class _Overrun(BaseException):  # math-verify catches Exception around sympy: this must get through
    """Raised by the alarm when an in-process comparison overruns its timeout."""


def _alarm(signum, frame):
    raise _Overrun


_POOL: ProcessPoolExecutor | None = None
IN_PROCESS_PAIRS = 4  # a handful of comparisons is cheaper here than starting worker processes
CHUNK_SLACK = 10.0  # seconds a chunk may take beyond its pairs' timeouts before its worker is presumed stuck


def _pool(workers: int | None) -> ProcessPoolExecutor:
    global _POOL
    size = workers or os.cpu_count() or 1
    if _POOL is not None and _POOL._max_workers != size:
        _reset_pool()
    if _POOL is None:
        # spawn, not fork: the parent may hold vLLM / torch threads.
        _POOL = ProcessPoolExecutor(max_workers=size, mp_context=multiprocessing.get_context("spawn"))
    return _POOL


def _reset_pool() -> None:
    """Kill the workers (one may be stuck in sympy) and start afresh on next use."""
    global _POOL
    if _POOL is not None:
        for process in list(getattr(_POOL, "_processes", {}).values()):
            process.kill()
        _POOL.shutdown(wait=False, cancel_futures=True)
        _POOL = None


def _in_process(pair: tuple[str, str], timeout: float) -> Verdict:
    """One comparison on the main thread under a SIGALRM timer (no worker process to start)."""
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        return _compare(*pair)
    except _Overrun:
        return Verdict.TIMEOUT
    except Exception:  # noqa: BLE001 - a sympy error on one pair is that pair's verdict
        return Verdict.UNPARSEABLE
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def grade_many(
    pairs: list[tuple[str | None, str | None]], timeout: float = 5.0, workers: int | None = None
) -> list[Verdict]:
    """Verdicts for (gold, predicted) pairs, each within `timeout` seconds.

    A few pairs on the main thread are compared in-process under a SIGALRM
    timer, as math-verify's own timeouts work, so the helpers answer from any script,
    notebook or `python -` without a `__main__` guard. More pairs, or a call
    from another thread, go to a pool of `workers` processes (default: every core).

    Example:
        >>> grade_many([("1/2", "0.5"), ("2", "3")])
        [<Verdict.CORRECT: 'correct'>, <Verdict.INCORRECT: 'incorrect'>]
    """
    verdicts: list[Verdict | None] = [Verdict.UNPARSEABLE if not gold or not pred else None for gold, pred in pairs]
    todo = [i for i, v in enumerate(verdicts) if v is None]
    if len(todo) <= IN_PROCESS_PAIRS and threading.current_thread() is threading.main_thread():
        for i in todo:
            verdicts[i] = _in_process(pairs[i], timeout)
        return verdicts
    size = workers or os.cpu_count() or 1
    step = max(1, -(-len(todo) // (4 * size)))  # a few chunks per worker: one round trip each, balanced load
    chunks = [todo[k : k + step] for k in range(0, len(todo), step)]
    futures = [(chunk, _pool(workers).submit(_compare_chunk, [pairs[i] for i in chunk], timeout)) for chunk in chunks]
    for chunk, future in futures:
        try:
            for i, verdict in zip(chunk, future.result(timeout=timeout * len(chunk) + CHUNK_SLACK)):
                verdicts[i] = verdict
        except (FutureTimeout, BrokenProcessPool):  # a worker stuck where no signal reaches: its chunk timed out
            for i in chunk:
                verdicts[i] = Verdict.TIMEOUT
            _reset_pool()
    return [v if v is not None else Verdict.UNPARSEABLE for v in verdicts]


def _compare_chunk(chunk: list[tuple[str, str]], timeout: float) -> list[Verdict]:
    """In a pool worker (its main thread): each pair under its own SIGALRM timer."""
    return [_in_process(pair, timeout) for pair in chunk]


def grade_rows(
    references: list[str | None],
    answers: list[list[str | None]],
    timeout: float = 5.0,
    workers: int | None = None,
    questions: list[str | None] | None = None,
) -> list[list[Verdict]]:
    """Verdicts for every answer of every row against that row's reference, in one parallel call.

    With `questions`, an answer math-verify finds equal only because it restates
    its row's question (see `restates_question`) gets `Verdict.RESTATED`.
    """
    flat = iter(grade_many([(ref, a) for ref, row in zip(references, answers) for a in row], timeout, workers))
    verdicts = [[next(flat) for _ in row] for row in answers]
    for r, row in enumerate(verdicts):
        for k, verdict in enumerate(row):
            if verdict is Verdict.CORRECT and questions and restates_question(questions[r], answers[r][k], references[r]):
                row[k] = Verdict.RESTATED
    return verdicts


_LATEX_NOISE = re.compile(r"\\left|\\right|\\displaystyle|\\[,;:!]|\$|\s")
_SIMPLE_FRACTION = re.compile(r"\\frac\{(\w+)\}\{(\w+)\}|\\frac(\w)(\w)")
_PLAIN_VALUE = re.compile(r"[-+]?(\d+(\.\d+)?(/\d+)?|[A-Za-z])")


def _canonical(text: str) -> str:
    """LaTeX spelled one way: no spacing, `$`, `\\left`/`\\right` or braces; `\\frac{a}{b}` as `a/b`."""
    text = _LATEX_NOISE.sub("", text).replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    text = _SIMPLE_FRACTION.sub(lambda m: "/".join(g for g in m.groups() if g is not None), text)
    return text.replace("{", "").replace("}", "")


def restates_question(question: str | None, answer: str | None, reference: str | None) -> bool:
    r"""Whether `answer` merely repeats an expression of `question` instead of the reference's value.

    math-verify evaluates both sides, so `\sqrt[4]{12960000}` "equals" a
    reference of 60 when the question asks for exactly that root. Such an
    answer restates the question when its canonical form occurs in the
    question's, it is not the reference as written, it is more than a plain
    number or letter, and the reference itself is not among the question's
    expressions (as in "which is larger, 3/4 or 2/3?").

    Example:
        >>> restates_question("Compute $\\sqrt[4]{12960000}$.", "\\sqrt[4]{12960000}", "60")
        True
        >>> restates_question("Which is larger, $\\frac{3}{4}$ or $\\frac{2}{3}$?", "\\frac34", "3/4")
        False
    """
    if not question or not answer or not reference:
        return False
    said, asked, expected = _canonical(answer), _canonical(question), _canonical(reference)
    if not said or said == expected or _PLAIN_VALUE.fullmatch(said) or said not in asked:
        return False
    return re.search(rf"(?<![\w.]){re.escape(expected)}(?![\w.])", asked) is None


def is_equivalent(gold: str, predicted: str, timeout: float = 5.0) -> bool | None:
    """True / False by math-verify; None on timeout or when either side does not parse.

    Example:
        >>> is_equivalent("1/2", "0.5")
        True
    """
    verdict = grade_many([(gold, predicted)], timeout)[0]
    if verdict in (Verdict.TIMEOUT, Verdict.UNPARSEABLE):
        return None
    return verdict is Verdict.CORRECT


def majority_answer(
    answers: list[str | None], timeout: float = 5.0, workers: int | None = None
) -> tuple[str | None, int]:
    """The most common answer, grouping answers by math-verify equivalence (not string equality).

    Returns the first-seen member of the largest class and its votes; `(None, 0)`
    when nothing was answered. Ties go to the class seen first.
    """
    classes: list[list[str]] = []
    for answer in answers:
        if not answer:
            continue
        same = next((c for c in classes if c[0].strip() == answer.strip()), None)
        if same is None and classes:
            verdicts = grade_many([(c[0], answer) for c in classes], timeout, workers)
            same = next((c for c, v in zip(classes, verdicts) if v is Verdict.CORRECT), None)
        if same is None:
            classes.append([answer])
        else:
            same.append(answer)
    if not classes:
        return None, 0
    best = max(classes, key=len)
    return best[0], len(best)
