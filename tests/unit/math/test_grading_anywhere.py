"""Batch grading gives the same verdicts from any caller, and never reports a start-up failure as a timeout."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading

import pytest

from magpie_hf.math import grading
from magpie_hf.math.grading import GradingError, Verdict, grade_many


def known_pairs() -> list[tuple[str, str, str]]:
    """(gold, predicted, verdict) triples whose verdicts are certain: equal and unequal forms of the same values."""
    triples = []
    for den, num in [(2, 1), (4, 1), (4, 3), (5, 2), (8, 3), (8, 7), (10, 9), (20, 11), (25, 4), (16, 5)]:
        decimal = f"{num / den:g}"
        triples += [
            (f"\\frac{{{num}}}{{{den}}}", decimal, "correct"),
            (f"{num}/{den}", decimal, "correct"),
            (decimal, f"\\frac{{{num}}}{{{den}}}", "correct"),
            (f"\\frac{{{num}}}{{{den}}}", f"{num / den + 0.01:g}", "incorrect"),
        ]
    for k in range(2, 10):
        triples += [(f"x^{{{k}}}", f"x**{k}", "correct"), (f"x^{k}", f"x**{k + 1}", "incorrect")]
    for a, b in [(0, 1), (-2, 3), (1, 5), (-7, -1), (10, 20)]:
        triples += [
            (f"[{a},{b}]", f"[{a}, {b}]", "correct"),
            (f"({a},{b})", f"[{a},{b}]", "incorrect"),
            (f"({a}, {b})", f"({a},{b})", "correct"),
        ]
    for n in [3, 17, 42, 99, 250, 1001, 12, 7, 64, 5]:
        triples += [(str(n), str(n + 1), "incorrect"), (str(n), f"{n}.0", "correct"), (f"\\${n}", str(n), "correct")]
    triples += [("\\sqrt{2}", "2^{1/2}", "correct"), ("x^2+2x+1", "(x+1)^2", "correct"), ("2\\pi", "6.28", "incorrect")]
    triples += [("", "3", "unparseable"), ("1/2", None, "unparseable")]
    return triples


PAIRS = known_pairs()
VOTES = ["1/2", "3", "7", "8", "9", "10", "0.5", "\\frac{1}{2}", "3", "0.50"]  # 0.5 on is compared with 6 classes

GRADE = """
import json
from magpie_hf.grading import grade_many, grade_rows, majority_answer

triples = json.load(open("pairs.json"))
votes = json.load(open("votes.json"))

def grade():
    pairs = [(gold, predicted) for gold, predicted, _ in triples]
    rows = grade_rows([gold for gold, _ in pairs], [[predicted] for _, predicted in pairs], workers=2)
    print(json.dumps({
        "many": [v.value for v in grade_many(pairs, workers=2)],
        "rows": [v.value for row in rows for v in row],
        "majority": majority_answer(votes, workers=2),
    }))

"""
HOW = {  # no `if __name__ == "__main__":` guard anywhere
    "script": "grade()\n",
    "thread": "import threading\nt = threading.Thread(target=grade)\nt.start()\nt.join()\n",
    "map": (
        "from datasets import Dataset\n"
        "def per_batch(batch):\n"
        "    pairs = list(zip(batch['gold'], batch['predicted']))\n"
        "    return {'verdict': [v.value for v in grade_many(pairs, workers=1)]}\n"
        "data = Dataset.from_dict({'gold': [t[0] for t in triples], 'predicted': [t[1] for t in triples]})\n"
        "verdicts = list(data.map(per_batch, batched=True, batch_size=40, num_proc=2)['verdict'])\n"
        "print(json.dumps({'many': verdicts}))\n"
    ),
    "daemon": (  # a multiprocessing.Pool worker is daemonic: it may not start multiprocessing children
        "import multiprocessing\n"
        "halves = [[t[:2] for t in triples[:70]], [t[:2] for t in triples[70:]]]\n"
        "def per_half(pairs):\n"
        "    return [v.value for v in grade_many(pairs, workers=1)]\n"
        "with multiprocessing.get_context('fork').Pool(2) as pool:\n"
        "    print(json.dumps({'many': [v for half in pool.map(per_half, halves) for v in half]}))\n"
    ),
}


def run_python(tmp_path, how: str, stdin: bool = False) -> dict:
    (tmp_path / "pairs.json").write_text(json.dumps(PAIRS))
    (tmp_path / "votes.json").write_text(json.dumps(VOTES))
    code = GRADE + HOW[how]
    script = tmp_path / "grade_them.py"
    script.write_text(code)
    args, given = (["-"], code) if stdin else ([str(script)], None)
    proc = subprocess.run(
        [sys.executable, *args], input=given, capture_output=True, text=True, timeout=300, cwd=tmp_path, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("how, stdin", [("script", False), ("thread", False), ("script", True)])
def test_a_script_without_main_guard_gets_exact_verdicts(tmp_path, how, stdin):
    assert len(PAIRS) >= 100
    expected = [verdict for _, _, verdict in PAIRS]
    out = run_python(tmp_path, how, stdin)
    assert out["many"] == expected
    assert out["rows"] == expected
    assert out["majority"] == ["1/2", 4]


@pytest.mark.parametrize("how", ["map", "daemon"])
def test_inside_dataset_map_and_daemonic_pool_workers(tmp_path, how):
    assert run_python(tmp_path, how)["many"] == [verdict for _, _, verdict in PAIRS]


def test_from_a_thread_in_this_process():
    pairs = [(gold, predicted) for gold, predicted, _ in PAIRS[:30]]
    found: list = []
    for batch in (pairs, pairs[:2]):  # a few pairs off the main thread cannot be timed in-process either
        thread = threading.Thread(target=lambda b=batch: found.append(grade_many(b, workers=2)))
        thread.start()
        thread.join()
    assert [v.value for v in found[0]] == [verdict for _, _, verdict in PAIRS[:30]]
    assert found[1] == found[0][:2]


@pytest.fixture
def no_workers(monkeypatch):
    """Grading workers that exit at once, with no worker kept from earlier tests."""
    monkeypatch.setattr(grading, "_IDLE", [])
    monkeypatch.setattr(grading, "_NO_WORKERS", None)
    failing = [sys.executable, "-c", "raise SystemExit('no grading here')"]
    monkeypatch.setattr(grading, "_worker_command", lambda: failing)


def test_workers_that_cannot_start_mean_in_process_grading_not_timeouts(no_workers, caplog):
    pairs = [(gold, predicted) for gold, predicted, _ in PAIRS[:8]]
    with caplog.at_level(logging.WARNING, logger=grading.__name__):
        verdicts = grade_many(pairs, workers=2)
    assert [v.value for v in verdicts] == [verdict for _, _, verdict in PAIRS[:8]]
    assert "no grading here" in caplog.text
    assert grade_many(pairs, workers=2) == verdicts  # no second try, no second warning
    assert caplog.text.count("could not start") == 1


def test_workers_that_cannot_start_off_the_main_thread_raise_one_clear_error(no_workers):
    raised: list = []

    def grade():
        try:
            grade_many([("1/2", "0.5")])
        except GradingError as error:
            raised.append(str(error))

    thread = threading.Thread(target=grade)
    thread.start()
    thread.join()
    assert len(raised) == 1 and "no grading here" in raised[0]


@pytest.fixture
def sabotaged(monkeypatch):
    """Workers that die on the gold answer "die" and hang, deaf to SIGALRM, on "hang"."""
    boot = (
        "import json, os, signal, sys, time; sys.path[:] = json.loads(sys.argv[1]); import magpie_hf.math.grading as g\n"
        "compare = g._compare\n"
        "def sabotage(gold, predicted):\n"
        "    if gold == 'die': os._exit(1)\n"
        "    if gold == 'hang': signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM}); time.sleep(60)\n"
        "    return compare(gold, predicted)\n"
        "g._compare = sabotage\n"
        "g._serve()\n"
    )
    monkeypatch.setattr(grading, "_IDLE", [])
    monkeypatch.setattr(grading, "STUCK_SLACK", 1.0)
    monkeypatch.setattr(grading, "_worker_command", lambda: [sys.executable, "-c", boot, json.dumps(sys.path)])
    yield
    for worker in grading._IDLE:
        worker.close()


def test_a_pair_that_kills_or_hangs_its_worker_costs_only_its_own_verdict(sabotaged):
    batch = [("1/2", "0.5"), ("die", "1"), ("2", "3"), ("hang", "1"), ("4", "4.0"), ("x^2", "x**2")]
    verdicts = grade_many(batch, timeout=1.0, workers=1)
    assert verdicts == [
        Verdict.CORRECT,
        Verdict.UNPARSEABLE,
        Verdict.INCORRECT,
        Verdict.TIMEOUT,
        Verdict.CORRECT,
        Verdict.CORRECT,
    ]
