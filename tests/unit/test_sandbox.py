"""The sandbox runs model-written Python in a child process: each failure gives the model a short text, and
neither the caller nor the machine is hurt (nothing written outside, nothing left running)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from contextlib import suppress
from pathlib import Path

import psutil
import pytest

import magpie_hf
from magpie_hf.sandbox import CUT, Execution, Sandbox, SandboxLimits

FAST = SandboxLimits(wall_seconds=1.5, cpu_seconds=1)


@pytest.fixture(scope="module")
def sandbox():
    box = Sandbox(FAST, workers=2)
    yield box
    box.close()


def leftovers() -> list[psutil.Process]:
    """Sandbox children of this process still alive."""
    found = []
    for child in psutil.Process().children(recursive=True):
        with suppress(psutil.Error):
            if any("sandbox_prelude" in part for part in child.cmdline()):
                found.append(child)
    return found


def failed(sandbox: Sandbox, code: str, status: str) -> Execution:
    """Run `code`, expect `status`, and check that nothing is left running and that the sandbox still answers."""
    execution = sandbox.run(code)
    assert execution.status == status, execution
    assert execution.text.strip() and execution.text.endswith("\n")
    assert leftovers() == []
    assert sandbox.run("print(1)").text == "1\n"
    return execution


def test_prints_stdout_and_the_value_of_a_final_expression(sandbox):
    execution = sandbox.run("print('hi')\nx = 3\nx * 2")
    assert (execution.status, execution.text, execution.stderr) == ("completed", "hi\n6\n", "")


def test_an_exception_gives_a_short_traceback_of_the_cell(sandbox):
    text = failed(sandbox, "def f():\n    return 1 / 0\n\nf()", "error").text
    assert text.startswith("Traceback") and text.endswith("ZeroDivisionError: division by zero\n")
    assert 'File "<cell 1>", line 2, in f' in text
    assert "sandbox_prelude" not in text and "magpie-sandbox-" not in text and len(text.splitlines()) < 10


def test_a_syntax_error_names_the_line(sandbox):
    text = failed(sandbox, "x = (", "error").text
    assert 'File "<cell 1>", line 1' in text and "SyntaxError" in text and "Traceback" not in text


def test_long_output_keeps_the_head_of_stdout_and_the_end_of_the_traceback(sandbox):
    text = failed(sandbox, "print('a' * 3000)\n1 / 0", "error").text
    assert text.startswith("a" * 100) and CUT in text and text.endswith("ZeroDivisionError: division by zero\n")
    assert len(text) < FAST.output_chars + 50


def test_wall_timeout_kills_the_snippet(sandbox):
    start = time.perf_counter()
    execution = failed(sandbox, "import time\ntime.sleep(30)", "timeout")
    assert execution.text == "Execution timed out after 1.5 s\n" and time.perf_counter() - start < 6


def test_cpu_time_limit_kills_a_busy_loop():
    with Sandbox(SandboxLimits(wall_seconds=20, cpu_seconds=1)) as sandbox:
        execution = failed(sandbox, "while True:\n    pass", "timeout")
    assert "1 s of CPU time" in execution.text and execution.seconds < 10


def test_memory_limit_gives_a_memory_error(sandbox):
    text = failed(sandbox, "x = bytearray(10**11)", "memory").text
    assert "MemoryError" in text and text.endswith("Execution ran out of memory (limit 2048 MB)\n")


def test_a_socket_cannot_connect_even_to_localhost(sandbox):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        port = listener.getsockname()[1]
        text = failed(sandbox, f"import socket\nsocket.create_connection(('127.0.0.1', {port}))", "blocked").text
        with pytest.raises(BlockingIOError):
            listener.accept()  # nothing came
    assert "PermissionError: [Errno 1] Blocked by the sandbox: network access" in text


def test_as_root_the_snippet_has_a_network_namespace_of_its_own(sandbox):
    probe = "import ctypes, sys; sys.exit(ctypes.CDLL(None, use_errno=True).unshare(0x40000000) != 0)"
    if os.geteuid() != 0 or subprocess.run([sys.executable, "-c", probe]).returncode != 0:
        pytest.skip("unshare(CLONE_NEWNET) is not allowed here: the audit hook alone keeps sockets out")
    namespace = sandbox.run("import os\nos.readlink('/proc/self/ns/net')").text
    assert namespace.startswith("'net:[") and namespace != f"{os.readlink('/proc/self/ns/net')!r}\n"


def test_nothing_outside_the_working_directory_is_written_or_removed(sandbox, tmp_path):
    kept = tmp_path / "kept.txt"
    kept.write_text("mine")
    repo_file = Path(magpie_hf.__file__).parent / "sandbox_probe.txt"
    for code in (
        f"open({str(tmp_path / 'new.txt')!r}, 'w').write('x')",
        f"open({str(repo_file)!r}, 'w').write('x')",
        f"import os\nos.remove({str(kept)!r})",
        f"import shutil\nshutil.rmtree({str(tmp_path)!r})",
        "import os\nos.chdir('..')\nopen('escaped.txt', 'w')",
    ):
        text = failed(sandbox, code, "blocked").text
        assert "Blocked by the sandbox: writing outside the working directory" in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.txt"] and kept.read_text() == "mine"
    assert not repo_file.exists()


def test_files_written_inside_the_working_directory_work_and_are_removed_afterwards(sandbox):
    code = "import os\nopen('a.txt', 'w').write('42')\nprint(open('a.txt').read(), os.getcwd())"
    answer, cwd = sandbox.run(code).stdout.split()
    assert answer == "42" and "magpie-sandbox-" in cwd and not Path(cwd).exists()


def test_an_output_flood_is_cut_and_stopped(sandbox):
    execution = failed(sandbox, "print('x' * 10_000_000)", "output_limit")
    assert len(execution.stdout) <= FAST.output_bytes  # the parent read no more
    assert execution.text.endswith(f"{CUT}\nExecution stopped: its output passed {FAST.output_bytes} bytes\n")
    assert len(execution.text) < FAST.output_chars + 100


@pytest.mark.parametrize(
    "code, signal_text",
    [("import ctypes\nctypes.string_at(0)", "Segmentation fault"), ("import os\nos.abort()", "Aborted")],
)
def test_a_crash_is_reported_by_its_signal(sandbox, code, signal_text):
    assert failed(sandbox, code, "crashed").text == f"Execution crashed: {signal_text}\n"


@pytest.mark.parametrize(
    "code",
    [
        "import os\nos.system('touch {marker}')",
        "import subprocess\nsubprocess.run(['touch', '{marker}'])",
        "import os\nif os.fork() == 0:\n    open('{marker}', 'w')",
        "import os\nos.kill(os.getppid(), 0)",
    ],
)
def test_processes_cannot_be_started_or_signalled(sandbox, tmp_path, code):
    marker = tmp_path / "ran"
    text = failed(sandbox, code.format(marker=marker), "blocked").text
    assert "Blocked by the sandbox" in text and not marker.exists()


def test_history_cells_run_first_with_their_output_discarded(sandbox):
    history = ["print('hidden')\nx = 2", "1 / 0"]
    assert sandbox.run("print(x * 3)", history=history).text == "6\n"
    stateless = Sandbox(SandboxLimits(wall_seconds=1.5, stateful=False))
    assert "NameError: name 'x' is not defined" in stateless.run("print(x * 3)", history=history).text


def test_numpy_and_sympy_import_within_the_default_limits():
    pytest.importorskip("numpy")
    pytest.importorskip("sympy")
    code = "import numpy as np, sympy as sp\nx = sp.symbols('x')\nprint(sp.solve(x**2 - 4, x), np.arange(4).sum())"
    execution = Sandbox().run(code)
    assert (execution.status, execution.text) == ("completed", "[-2, 2] 6\n")


def test_concurrent_runs_respect_workers_and_all_return():
    sandbox = Sandbox(SandboxLimits(wall_seconds=10), workers=2)
    results: list[Execution] = []
    code = "import time\nstart = time.time()\ntime.sleep(0.8)\nprint(start, time.time())"
    threads = [threading.Thread(target=lambda: results.append(sandbox.run(code))) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    spans = [tuple(map(float, r.stdout.split())) for r in results]
    overlap = max(sum(1 for s, e in spans if s <= start < e) for start, _ in spans)
    assert [r.status for r in results] == ["completed"] * 5 and overlap == 2


def test_close_kills_what_runs_and_refuses_new_runs():
    sandbox = Sandbox(SandboxLimits(wall_seconds=60))
    results: list[Execution] = []
    thread = threading.Thread(target=lambda: results.append(sandbox.run("import time\ntime.sleep(60)")))
    thread.start()
    while not leftovers():
        time.sleep(0.05)
    sandbox.close()
    assert leftovers() == []
    thread.join(5)
    assert results[0].status == "crashed" and results[0].seconds < 10
    with pytest.raises(RuntimeError, match="closed"):
        sandbox.run("print(1)")


def test_a_failure_without_output_still_tells_the_model():
    assert Execution("", "", "timeout", 1.0).text == "Execution failed (timeout)\n"
