"""No import cycles: no module imports (at module level) one that imports it back, directly or through others."""

from __future__ import annotations

import ast
from pathlib import Path

import magpie_hf

ROOT = Path(magpie_hf.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in ROOT.rglob("*.py")}
    edges: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        for node in ast.parse(path.read_text()).body:  # module level only: function-level imports are lazy
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            edges[name] |= {t for t in targets if t in modules and t != name}
    return edges


def test_no_import_cycles():
    edges = graph()
    cycles = []

    def visit(node, stack, seen):
        for nxt in edges[node]:
            if nxt in stack:
                cycles.append(stack[stack.index(nxt) :] + [nxt])
            elif nxt not in seen:
                seen.add(nxt)
                visit(nxt, stack + [nxt], seen)

    for start in edges:
        visit(start, [start], {start})
    assert not cycles, " ; ".join(" -> ".join(c) for c in cycles[:5])


def test_the_framework_imports_no_pipeline():
    framework = [m for m in graph() if not m.startswith(("magpie_hf.pipelines", "magpie_hf.stages"))]
    edges = graph()
    assert not [(m, t) for m in framework for t in edges[m] if t.startswith("magpie_hf.pipelines")]
    for path in ROOT.rglob("*.py"):
        if "pipelines" in path.parts:
            continue
        text = path.read_text()
        for name in ("magpie_math", "critique", "forum"):
            assert f'"{name}"' not in text, f"{path} names pipeline {name}"
