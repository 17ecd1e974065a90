"""Nothing run-scoped lives at module level: engines, counters and failures travel in the run's context.

Every module of the package is read (its top-level assignments and `global`
statements) and imported; a module-level mutable value, a cache of a function
or a `global` rebinding must be one of the registries or pure caches named
here, with the reason it is not run state.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import pkgutil
from pathlib import Path

import magpie_hf

REGISTRIES = {  # filled once at import from code and package data, the same for every run
    "magpie_hf.core.stage.STAGES": "stages register when their module is imported",
    "magpie_hf.core.pipeline.PIPELINES": "pipelines register when their package is imported",
    "magpie_hf.engines.BACKENDS": "backend loaders by name",
    "magpie_hf.core.messages.MESSAGES": "user-facing texts",
    "magpie_hf.models.presets.PRESETS": "the preset table from presets.yaml",
    "magpie_hf.core.pipeline._DISCOVERED": "pipeline discovery ran once in this process",
    "magpie_hf.engines.reaper._STARTED": "one watchdog per process, which outlives any run by design",
    "magpie_hf.math.grading._IDLE": "idle worker processes of the pure grading functions, reused by any caller",
}
PROCESS_SETTINGS = {  # modules whose `global` sets what the process is, not what a run did
    "magpie_hf.core.messages": "the language of this process's messages (--lang, the locale)",
    "magpie_hf.math.grading": "whether this process can start grading workers, and their lock",
}
PURE_CACHES = {  # same arguments, same answer, whatever run asks
    "magpie_hf.models.presets._tokenizer": "a tokenizer file read from disk",
    "magpie_hf.models.presets.complete": "a preset's chat facts derived from its tokenizer",
    "magpie_hf.core.hardware.cpu_bf16": "a CPU flag",
    "magpie_hf.run.storage._fs": "an fsspec filesystem for a protocol",
}
MUTABLE = (dict, list, set, bytearray)


def modules() -> list[str]:
    root = Path(magpie_hf.__file__).parent
    found = (m.name for m in pkgutil.walk_packages([str(root)], "magpie_hf."))
    return ["magpie_hf", *(name for name in found if not name.endswith(".__main__"))]  # that one runs the CLI


def top_level_names(module) -> set[str]:
    tree = ast.parse(Path(module.__file__).read_text())
    names = set()
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def is_state(value) -> bool:
    """A mutable container, or an instance of a mutable dataclass (a counter such as the old USAGE)."""
    if isinstance(value, MUTABLE):
        return True
    return dataclasses.is_dataclass(value) and not isinstance(value, type) and not value.__dataclass_params__.frozen


def test_no_module_holds_run_state():
    found = []
    for name in modules():
        module = importlib.import_module(name)
        source = Path(module.__file__).read_text()
        if name not in PROCESS_SETTINGS and any(isinstance(node, ast.Global) for node in ast.walk(ast.parse(source))):
            found.append(f"{name}: a `global` statement")
        for attr in top_level_names(module):
            value = getattr(module, attr, None)
            if attr != "__all__" and is_state(value) and f"{name}.{attr}" not in REGISTRIES:
                found.append(f"{name}.{attr}: module-level {type(value).__name__}")
        for attr, value in vars(module).items():
            if callable(value) and hasattr(value, "cache_info") and getattr(value, "__module__", None) == name:
                if f"{name}.{attr}" not in PURE_CACHES:
                    found.append(f"{name}.{attr}: a cache of a function not known to be pure")
    assert not found, "run state at module level (put it in the run context, or name it here with why):\n" + "\n".join(found)


def test_the_scan_sees_a_counter_and_a_cache(tmp_path, monkeypatch):
    """The scan itself can fail: a module with a counter instance and an lru_cache is flagged."""
    (tmp_path / "leaky.py").write_text(
        "from dataclasses import dataclass\nfrom functools import lru_cache\n\n"
        "@dataclass\nclass Counter:\n    n: int = 0\n\nCOUNT = Counter()\nSEEN: dict = {}\n\n"
        "@lru_cache\ndef engine(name):\n    return object()\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    leaky = importlib.import_module("leaky")
    assert {a for a in top_level_names(leaky) if is_state(getattr(leaky, a))} == {"COUNT", "SEEN"}
    assert hasattr(leaky.engine, "cache_info")
