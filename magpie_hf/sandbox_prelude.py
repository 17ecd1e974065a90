"""The child side of `magpie_hf.sandbox`: a fresh `python -I` runs this file on one snippet.

Standard library only (the child imports nothing of magpie_hf). Its arguments:
the payload file (`{"code", "history", "limits"}`, JSON, removed once read)
and the file descriptor of the control pipe. Then, in order, it:
leaves the network (a new network namespace, where the OS allows it: root),
sets its resource limits, installs an audit hook that refuses writes outside
the working directory, new processes, sockets, signals to other processes,
native libraries and limit changes, runs the history cells with their output
sent to /dev/null, and runs the new cell.

A cell runs like a notebook cell: the repr of a final expression that is not
None is printed. An exception prints a short traceback (the cells' frames and
the last library frames, paths made relative). Each cell's start (`cell`) and
the outcome (`status completed|error|memory|blocked`) go as lines to the
control pipe: the parent restarts its wall clock on each cell.
"""

from __future__ import annotations

import ast
import builtins
import ctypes
import errno
import json
import linecache
import math
import os
import resource
import sys
import traceback
from contextlib import contextmanager, nullcontext
from pathlib import Path
from types import MappingProxyType

CLONE_NEWNET = 0x40000000
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
# Audit events that change a path: per path, the position of the path and of its dir_fd (None: it has none).
PATH_EVENTS = MappingProxyType(
    {
        "open": ((0, None),),  # only when its flags write
        "os.remove": ((0, 1),),
        "os.rmdir": ((0, 1),),
        "os.mkdir": ((0, 2),),
        "os.rename": ((0, 2), (1, 3)),
        "os.link": ((0, 2), (1, 3)),
        "os.symlink": ((1, 2),),
        "os.chmod": ((0, 2),),
        "os.chown": ((0, 3),),
        "os.utime": ((0, 3),),
        "os.truncate": ((0, None),),
        "os.chflags": ((0, None),),
        "os.setxattr": ((0, None),),
        "os.removexattr": ((0, None),),
        "shutil.rmtree": ((0, 1),),
        "sqlite3.connect": ((0, None),),
    }
)
PROCESS_EVENTS = frozenset(
    {"os.system", "subprocess.Popen", "os.fork", "os.forkpty", "os.exec", "os.posix_spawn", "os.spawn", "os.killpg"}
)
LIMIT_EVENTS = frozenset({"resource.setrlimit", "resource.prlimit"})
CELL_FRAMES, LIBRARY_FRAMES = 3, 2  # what a traceback keeps


class Guard:
    """The audit hook: while `on`, refuses what a snippet may not do, raising a PermissionError it keeps."""

    def __init__(self, root: str):
        self.root = root
        self.on = False
        self.refused: list[BaseException] = []

    def __call__(self, event: str, args: tuple) -> None:
        if not self.on:
            return
        why = self.why(event, args)
        if why:
            error = PermissionError(errno.EPERM, f"Blocked by the sandbox: {why}")
            self.refused.append(error)
            raise error

    def why(self, event: str, args: tuple) -> str | None:
        """What the event would do that is not allowed, or None."""
        if event in PATH_EVENTS:
            if event == "open" and not (args[2] or 0) & WRITE_FLAGS:
                return None
            for path, dir_fd in PATH_EVENTS[event]:
                if not self.inside(args[path], None if dir_fd is None else args[dir_fd]):
                    return f"writing outside the working directory ({os.fsdecode(args[path])})"
        elif event in PROCESS_EVENTS:
            return f"starting or signalling processes ({event})"
        elif event == "os.kill" and args[0] != os.getpid():
            return "signalling another process (os.kill)"
        elif event.startswith("socket."):
            return f"network access ({event})"
        elif event.startswith("ctypes.dl"):
            return f"loading native code ({event})"
        elif event in LIMIT_EVENTS:
            return f"changing resource limits ({event})"
        return None

    def inside(self, path, dir_fd: int | None) -> bool:
        """Whether `path` (relative to the cwd, or to `dir_fd`) resolves into the working directory, or is /dev/null."""
        if isinstance(path, int) or path in (":memory:", ""):
            return True
        path = os.fsdecode(path)
        if dir_fd is not None and dir_fd >= 0 and not os.path.isabs(path):
            path = os.path.join(os.readlink(f"/proc/self/fd/{dir_fd}"), path)
        real = os.path.realpath(path)
        return real in (self.root, os.devnull) or real.startswith(self.root + os.sep)


def leave_network() -> None:
    """A network namespace of its own (no interfaces up); without root this fails (EPERM) and the guard remains."""
    ctypes.CDLL(None, use_errno=True).unshare(CLONE_NEWNET)


def set_limits(limits: dict, cells: int) -> None:
    """Address space, open files, file size, no core dumps, and CPU time for all `cells` (see `cpu_for_cell`)."""
    memory = limits["memory_mb"] * 2**20
    for kind, value in (
        (resource.RLIMIT_AS, memory),
        (resource.RLIMIT_NOFILE, limits["open_files"]),
        (resource.RLIMIT_FSIZE, limits["file_mb"] * 2**20),
        (resource.RLIMIT_CORE, 0),
    ):
        resource.setrlimit(kind, (value, value))
    cpu = limits["cpu_seconds"] * cells + 2  # past the last cell's soft limit: SIGXCPU comes first, not SIGKILL
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))


def cpu_for_cell(seconds: int) -> None:
    """Let the next cell use `seconds` of CPU time more than spent so far (SIGXCPU kills past it)."""
    used = resource.getrusage(resource.RUSAGE_SELF)
    hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
    soft = math.ceil(used.ru_utime + used.ru_stime + seconds)
    resource.setrlimit(resource.RLIMIT_CPU, (min(soft, hard - 1), hard))


@contextmanager
def silenced():
    """stdout and stderr (the file descriptors: C extensions too) go to /dev/null inside the block."""
    saved = [os.dup(1), os.dup(2)]
    null = os.open(os.devnull, os.O_WRONLY)
    for fd in (1, 2):
        os.dup2(null, fd)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, copy in zip((1, 2), saved):
            os.dup2(copy, fd)
        for fd in (null, *saved):
            os.close(fd)


def short_traceback(error: BaseException, root: str) -> str:
    """The exception's last line with the cells' last frames and the library frames just before it."""
    summary = traceback.TracebackException.from_exception(error)
    frames = [f for f in summary.stack if f.filename != __file__]
    cells = [i for i, f in enumerate(frames) if f.filename.startswith("<cell")]
    after = cells[-1] + 1 if cells else 0
    kept = sorted(set(cells[-CELL_FRAMES:]) | set(range(len(frames))[after:][-LIBRARY_FRAMES:]))
    summary.stack = traceback.StackSummary.from_list([frames[i] for i in kept])
    text = "".join(summary.format(chain=False))
    for prefix in sorted({root, *filter(None, sys.path)}, key=len, reverse=True):
        text = text.replace(prefix + os.sep, "")
    return text


def run_cell(source: str, name: str, namespace: dict, guard: Guard) -> str:
    """Run one cell in `namespace` under the guard; print its final expression or its error; its status."""
    linecache.cache[name] = (len(source), None, source.splitlines(True), name)
    try:
        tree = ast.parse(source, name)
    except SyntaxError as error:
        os.write(2, "".join(traceback.format_exception_only(error)).encode())
        return "error"
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    guard.refused.clear()
    guard.on = True
    try:
        exec(compile(tree, name, "exec"), namespace)
        if last is not None:
            value = eval(compile(ast.Expression(last.value), name, "eval"), namespace)
            if value is not None:
                print(repr(value))
    except SystemExit as stop:
        if stop.code in (None, 0):
            return "completed"
        os.write(2, f"SystemExit: {stop.code}\n".encode())
        return "error"
    except BaseException as error:  # noqa: BLE001 - the snippet's error is its output
        guard.on = False
        os.write(2, short_traceback(error, guard.root).encode(errors="backslashreplace"))
        if any(error is refused or error.__context__ is refused for refused in guard.refused):
            return "blocked"
        return "memory" if isinstance(error, MemoryError) else "error"
    finally:
        guard.on = False
    return "completed"


def main() -> None:
    payload = json.loads(Path(sys.argv[1]).read_text())
    os.remove(sys.argv[1])
    limits, history = payload["limits"], payload["history"]
    control = os.fdopen(int(sys.argv[2]), "w", buffering=1)
    leave_network()
    set_limits(limits, len(history) + 1)
    guard = Guard(os.path.realpath(os.getcwd()))
    sys.addaudithook(guard)
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    cells = [*history, payload["code"]]
    for i, source in enumerate(cells, start=1):
        control.write("cell\n")
        cpu_for_cell(limits["cpu_seconds"])
        with silenced() if i < len(cells) else nullcontext():  # a history cell that fails now is skipped
            status = run_cell(source, f"<cell {i}>", namespace, guard)
    sys.stdout.flush()
    control.write(f"status {status}\n")
    os._exit(0)  # no waiting for threads the snippet left running


if __name__ == "__main__":
    main()
