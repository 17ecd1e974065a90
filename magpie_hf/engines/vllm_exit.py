"""vLLM's multiprocessing executor, with engine processes that exit without a last full garbage collection.

Releasing an engine ends its EngineCore process and that process's worker.
Each then runs Python's finalization, whose cyclic garbage collections scan
the whole torch + vLLM heap (about a million objects): seconds per process on
a CPU, for memory the OS reclaims anyway (vLLM issue #48620). The EngineCore
waits for its worker, and the driver waits 5 s for the EngineCore before
SIGKILLing it. Frozen objects are not scanned, so both processes freeze their
heap at exit, after vLLM's own teardown has run, as vLLM's EngineCore already
does on ROCm.
"""

from __future__ import annotations

import atexit
import gc

from vllm.v1.executor.multiproc_executor import MultiprocExecutor


def freeze_heap_at_exit(*_worker) -> None:
    """Freeze this process's heap when its exit handlers run; also a worker RPC (`_worker`: the vLLM worker)."""
    atexit.register(gc.freeze)


class FreezeAtExitExecutor(MultiprocExecutor):
    """`MultiprocExecutor` whose process (the EngineCore) and workers freeze their heap at exit."""

    def _init_executor(self) -> None:
        super()._init_executor()
        freeze_heap_at_exit()
        self.collective_rpc(freeze_heap_at_exit)
