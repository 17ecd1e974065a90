"""Final-answer extraction and math-verify equivalence, with hard timeouts, the same from any caller.

Before math-verify, both sides are normalised: currency signs go (`\\$10`,
`\\euro`, `€`, `£`), digits grouped in threes by a space, a thin space (`\\,`,
`\\ `, U+2009, U+202F, U+00A0) or `{,}` are joined (`1 000` is 1000; `1 2` and
`(1, 000)` stay as they are), an answer that is only a whole number and a
proper fraction (`4 4/9`, `-3 1/2`) is read as a mixed number (40/9, -7/2),
and Python's power `x**2` is written `x^2`.

sympy can hang on pathological input, so every comparison runs under a
per-pair timer (math-verify's `signal.alarm`, which works on a main thread
only), and `timeout` is the verdict of a comparison that overran, nothing else:

- A few pairs on the main thread are compared in-process.
- More pairs, or any call from another thread, go in chunks to grading workers
  on every core: `python -c` subprocesses of this module, kept for later calls.
  They are not `multiprocessing` children, so they never re-import the caller's
  `__main__` and may be started from anywhere: a script without an
  `if __name__ == "__main__":` guard, `python -`, a notebook, a thread, a
  daemonic `Dataset.map(num_proc=...)` worker, a Ray task. Each compares on
  its main thread under the timer and answers pair by pair. A worker stuck where
  no signal reaches is killed `STUCK_SLACK` seconds past the timeout (that pair:
  `timeout`) and a fresh one takes the rest; a pair that kills two workers is
  `unparseable`.
- If no worker can start (no usable `sys.executable`, say), this process grades
  in-process from then on: on the main thread under the timer, with one
  warning; from another thread, where there is no timer, it raises
  `GradingError`.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from contextlib import suppress
from enum import Enum

log = logging.getLogger(__name__)

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

    For reasoning models only the text after `</think>` counts; a thinking block
    that never closed (cut by `max_tokens`) has no final answer yet.

    Example:
        >>> extract_answer("<think>\nmaybe \\boxed{3}")  is None
        True
    """
    if not text or ("<think>" in text and "</think>" not in text):
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


_CURRENCY = re.compile(r"\\\$|\\textdollar\b|\\euro\b|\\pounds\b|[€£]")
_EMPTY_TEXT = re.compile(r"\\(?:text|textrm|mbox)\{\s*\}")
_THOUSANDS = re.compile(r"(?<![\w.,/^])\d{1,3}(?:(?: |\u00a0|\u2009|\u202f|\\,|\\ |\{,\})\d{3})+(?![\d/])")
_MIXED_NUMBER = re.compile(r"([-+]?)(\d+)\s+(\d+)/(\d+)")
_POWER = re.compile(r"\s*\*\*\s*")


def _normalise(answer: str) -> str:
    """Currency signs dropped, digit groups joined, `**` as `^`, a lone mixed number as a fraction (module docstring)."""
    text = _POWER.sub("^", _EMPTY_TEXT.sub("", _CURRENCY.sub("", answer)))
    text = _THOUSANDS.sub(lambda m: re.sub(r"\D", "", m.group()), text)
    mixed = _MIXED_NUMBER.fullmatch(text.strip().strip("$").strip())
    if mixed and 0 < int(mixed[3]) < int(mixed[4]):
        return f"{mixed[1]}\\frac{{{int(mixed[2]) * int(mixed[4]) + int(mixed[3])}}}{{{mixed[4]}}}"
    return text


def _compare(gold: str, predicted: str) -> Verdict:
    """One comparison, gold first, as math-verify expects; its own timeouts are off (the caller times out)."""
    from math_verify import parse, verify

    logging.getLogger("math_verify").setLevel(logging.ERROR)
    gold_parsed = parse(_as_latex(_normalise(gold)), parsing_timeout=None)
    pred_parsed = parse(_as_latex(_normalise(predicted)), parsing_timeout=None)
    if not gold_parsed or not pred_parsed:
        return Verdict.UNPARSEABLE
    ok = verify(gold_parsed, pred_parsed, timeout_seconds=None)
    return Verdict.CORRECT if ok else Verdict.INCORRECT


class _Overrun(BaseException):  # math-verify catches Exception around sympy: this must get through
    """Raised by the alarm when an in-process comparison overruns its timeout."""


def _alarm(signum, frame):
    raise _Overrun


IN_PROCESS_PAIRS = 4  # a handful of comparisons is cheaper here than a round trip to a worker
STUCK_SLACK = 10.0  # seconds a worker may run past a pair's timeout before it is presumed stuck and killed
START_TIMEOUT = 120.0  # seconds a new worker may take to start and import math-verify


class GradingError(RuntimeError):
    """No grading worker could start, and this thread has no per-pair timer to grade in-process."""


class _NotStarted(Exception):
    """A grading worker did not start; the message says why."""


def _in_process(pair: tuple[str, str], timeout: float) -> Verdict:
    """One comparison on the main thread under a SIGALRM timer."""
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


def _worker_command() -> list[str]:
    """`python -c` running `_serve` on the caller's `sys.path`, and nothing of the caller's `__main__`."""
    boot = "import json, sys; sys.path[:] = json.loads(sys.argv[1]); from magpie_hf.math.grading import _serve"
    return [sys.executable, "-c", boot + "; _serve()", json.dumps(sys.path)]


def _serve() -> None:
    """A worker: a JSON line `[timeout, [[gold, predicted], ...]]` in, one verdict a line out, "ready" first."""
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # what sympy or math-verify print must not mix with the verdicts
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the caller's; it ends its workers
    import math_verify  # noqa: F401 - ready means able to grade

    print("ready", file=out, flush=True)
    for line in sys.stdin:
        timeout, chunk = json.loads(line)
        for gold, predicted in chunk:
            print(_in_process((gold, predicted), timeout).value, file=out, flush=True)


class _Worker:
    """A grading subprocess (`_serve`), its stderr kept in a temporary file."""

    def __init__(self) -> None:
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - open as long as the worker runs
        self.proc = subprocess.Popen(_worker_command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log)
        self.poll = select.poll()
        self.poll.register(self.proc.stdout, select.POLLIN)
        self.buffer = b""

    def line(self, wait: float) -> bytes | None:
        """The next line it writes; b"" when it has exited, None when `wait` seconds pass first."""
        deadline = time.monotonic() + wait
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not self.poll.poll(left * 1000):
                return None
            data = os.read(self.proc.stdout.fileno(), 1 << 16)
            if not data:
                return b""
            self.buffer += data
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line

    def send(self, chunk: list[tuple[str, str]], timeout: float) -> bool:
        """Hand it a chunk; False when it has exited."""
        try:
            self.proc.stdin.write(json.dumps([timeout, chunk]).encode() + b"\n")
            self.proc.stdin.flush()
        except OSError:
            return False
        return True

    def close(self) -> str:
        """Kill it and free its pipes; returns the end of its stderr."""
        self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            with suppress(OSError):
                stream.close()
        self.log.seek(0)
        said = self.log.read()[-2000:].decode(errors="replace").strip()
        self.log.close()
        return said or f"exit status {self.proc.returncode}"


_IDLE: list[_Worker] = []  # this process's workers between calls
_LOCK = threading.Lock()
_NO_WORKERS: str | None = None  # why workers could not start, once they could not


def _take() -> _Worker:
    """An idle worker, else a new one once it says it is ready; `_NotStarted` if it cannot start."""
    with _LOCK:
        while _IDLE:
            worker = _IDLE.pop()
            if worker.proc.poll() is None:
                return worker
            worker.close()
    try:
        worker = _Worker()
    except OSError as error:
        raise _NotStarted(f"{sys.executable}: {error}") from error
    if worker.line(START_TIMEOUT) != b"ready":
        raise _NotStarted(worker.close())
    return worker


def _give(worker: _Worker) -> None:
    """Keep a worker for later calls (one a core at most)."""
    with _LOCK:
        if len(_IDLE) < (os.cpu_count() or 1):
            _IDLE.append(worker)
            return
    worker.close()


@atexit.register
def _close_idle() -> None:
    for worker in _IDLE:
        worker.close()
    _IDLE.clear()


def _forget_workers() -> None:
    """In a forked child: the parent's workers are not this process's to use."""
    global _LOCK
    _LOCK = threading.Lock()
    _IDLE.clear()


os.register_at_fork(after_in_child=_forget_workers)


_Pairs = list[tuple[str, str]]


def _grade_chunk(
    worker: _Worker, chunk: deque[int], pairs: _Pairs, timeout: float, verdicts: list[Verdict | None], crashed: set[int]
) -> bool:
    """Grade `chunk` (indices into `pairs`), popping each pair as it is decided; False if the worker is lost."""
    alive = worker.send([pairs[i] for i in chunk], timeout)
    while chunk:
        line = worker.line(timeout + STUCK_SLACK) if alive else b""
        if line is None:  # stuck where no signal reaches
            verdicts[chunk.popleft()] = Verdict.TIMEOUT
            return False
        if not line:  # it died on this pair: one retry in a fresh worker
            if chunk[0] in crashed:
                verdicts[chunk.popleft()] = Verdict.UNPARSEABLE
            else:
                crashed.add(chunk[0])
            return False
        verdicts[chunk.popleft()] = Verdict(line.decode())
    return True


def _work(
    todo: deque[deque[int]],
    pairs: _Pairs,
    timeout: float,
    verdicts: list[Verdict | None],
    crashed: set[int],
    errors: list[str],
) -> None:
    """One worker's share of a call: chunks from `todo` until none is left or no worker starts."""
    worker = None
    try:
        while todo:
            try:
                chunk = todo.popleft()
            except IndexError:  # another thread took the last one
                return
            try:
                worker = worker or _take()
            except _NotStarted as error:
                todo.appendleft(chunk)
                errors.append(str(error))
                return
            if not _grade_chunk(worker, chunk, pairs, timeout, verdicts, crashed):
                worker.close()
                worker = None
                if chunk:
                    todo.appendleft(chunk)
    finally:
        if worker is not None:
            _give(worker)


def _pooled(pairs: _Pairs, timeout: float, size: int) -> list[Verdict | None]:
    """Verdicts from up to `size` workers; None for the pairs left when no worker could start."""
    global _NO_WORKERS
    verdicts: list[Verdict | None] = [None] * len(pairs)
    step = max(1, -(-len(pairs) // (4 * size)))  # a few chunks per worker: balanced load
    todo = deque(deque(range(k, min(k + step, len(pairs)))) for k in range(0, len(pairs), step))
    crashed: set[int] = set()
    while todo and _NO_WORKERS is None:
        errors: list[str] = []  # one a thread that could not start its worker
        threads = [
            threading.Thread(target=_work, args=(todo, pairs, timeout, verdicts, crashed, errors), daemon=True)
            for _ in range(min(size, len(todo)))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if len(errors) == len(threads):
            _NO_WORKERS = errors[0]
            log.warning("grading workers could not start, grading in-process from now on: %s", _NO_WORKERS)
    return verdicts


def grade_many(
    pairs: list[tuple[str | None, str | None]], timeout: float = 5.0, workers: int | None = None
) -> list[Verdict]:
    """Verdicts for (gold, predicted) pairs, each within `timeout` seconds.

    A few pairs on the main thread are compared in-process; more pairs, or a
    call from another thread, go to up to `workers` worker processes (default:
    every core). Any caller gets the same verdicts (see the module docstring).

    Raises:
        GradingError: called off the main thread where no worker process can start.

    Example:
        >>> grade_many([("1/2", "0.5"), ("2", "3")])
        [<Verdict.CORRECT: 'correct'>, <Verdict.INCORRECT: 'incorrect'>]
    """
    verdicts: list[Verdict | None] = [Verdict.UNPARSEABLE if not gold or not pred else None for gold, pred in pairs]
    todo = [i for i, v in enumerate(verdicts) if v is None]
    on_main = threading.current_thread() is threading.main_thread()
    if todo and (len(todo) > IN_PROCESS_PAIRS or not on_main):
        for i, verdict in zip(todo, _pooled([pairs[i] for i in todo], timeout, workers or os.cpu_count() or 1)):
            verdicts[i] = verdict
    if not on_main and None in verdicts:
        raise GradingError(f"no grading worker could start, and a thread has no per-pair timer: {_NO_WORKERS}")
    return [v if v is not None else _in_process(pair, timeout) for v, pair in zip(verdicts, pairs)]


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
