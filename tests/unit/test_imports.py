"""Imports and names: no import cycle, each layer imports only the layers below it, the framework names no pipeline."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import magpie_hf
from magpie_hf.core.pipeline import GENERIC, PIPELINES, discover
from magpie_hf.core.stage import STAGES

ROOT = Path(magpie_hf.__file__).parent

# Layer (a folder or a file under magpie_hf/) -> the layers it may import besides its own (naming a folder allows
# the files in it that are layers of their own, e.g. `core/hardware.py`); every file needs a layer.
LAYERS: dict[str, tuple[str, ...]] = {
    "core/hardware.py": (),
    "sandbox.py": (),
    "sandbox_prelude.py": (),  # run as a script by the sandbox's child: the standard library only
    "math/": (),
    "models/": ("core/hardware.py",),
    "engines/": ("core/hardware.py", "models/"),
    "core/": ("engines/", "models/"),
    "publish/": ("core/", "models/"),
    "run/": ("core/", "engines/", "models/", "publish/", "sandbox.py"),
    "stages/": ("core/", "engines/", "math/", "models/", "run/", "sandbox.py"),
    "pipelines/": ("core/", "engines/", "math/", "models/", "run/", "sandbox.py", "stages/"),
    "cli/": ("core/", "engines/", "publish/", "run/"),
    "__init__.py": ("core/", "math/", "run/"),
    "grading.py": ("math/",),
}
# Columns the framework itself reads or writes: a source's rows, the drop reason, the problem of a per-solution row.
OWN_COLUMNS = {"id", "index", "domain", "problem", "answer", "solution", "filter_reason", "problem_id"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def graph(module_level: bool = True) -> dict[str, set[str]]:
    """Module -> the modules it imports: at module level (lazy imports in functions excluded), or anywhere."""
    modules = {module_name(p): p for p in ROOT.rglob("*.py")}
    edges: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        for node in tree.body if module_level else ast.walk(tree):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            edges[name] |= {t for t in targets if t in modules and t != name}
    return edges


def layer(module: str) -> str:
    """The longest LAYERS key that holds the module's file."""
    path = "/".join(module.split(".")[1:]) or "__init__"
    held = [key for key in LAYERS if (path + "/").startswith(key) or f"{path}.py" == key]
    assert held, f"{module} is in no layer: give its folder a row in LAYERS"
    return max(held, key=len)


def cycles(edges: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Every cycle a depth-first walk from each node meets, as the path that closes it."""
    found = []

    def visit(node, stack, seen):
        for nxt in edges[node]:
            if nxt in stack:
                found.append(stack[stack.index(nxt) :] + [nxt])
            elif nxt not in seen:
                seen.add(nxt)
                visit(nxt, stack + [nxt], seen)

    for start in edges:
        visit(start, [start], {start})
    return found


def test_no_import_cycles():
    found = cycles(graph())
    assert not found, " ; ".join(" -> ".join(c) for c in found[:5])


def test_layers_import_only_the_layers_below_them():
    assert not cycles(LAYERS), "LAYERS must be a DAG"
    edges = graph(module_level=False)  # lazy imports too: a layer may not reach up even at call time
    wrong = [
        f"{module} ({layer(module)}) imports {target} ({layer(target)})"
        for module, targets in edges.items()
        for target in targets
        if not layer(target).startswith((layer(module), *LAYERS[layer(module)]))
    ]
    assert not wrong, "\n".join(wrong)


def strings(tree: ast.Module) -> set[str]:
    """The string constants of a module, docstrings left out."""
    docs = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
    }
    return {
        n.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs
    }


def columns(tree: ast.Module) -> set[str]:
    """The strings a module uses as column names: `rows["x"]`, `{"x": ...}`, `input_columns="x"`."""
    keys = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript):
            keys.append(node.slice)
        elif isinstance(node, ast.Dict):
            keys += node.keys
        elif isinstance(node, ast.keyword) and (node.arg or "").endswith("columns"):
            keys.append(node.value)
    return {k.value for k in keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}


def test_the_framework_names_no_pipeline_stage_or_stage_column():
    """Outside pipelines/: no pipeline, command or table name; outside stages/ too: no stage name; where
    rows are handled (core, run, publish, cli): no column a stage writes as a column, besides the framework's own."""
    discover()
    pipelines = {
        name: f"of pipeline {p.name}"
        for p in PIPELINES.values()
        if p is not GENERIC
        for name in (p.name, *(c.name for c in p.commands), *p.tables)
    }
    stages = {s.name: "a stage" for s in STAGES.values()}
    written = {
        c: f"written by stage {s.name}"
        for s in STAGES.values()
        if not callable(s.outputs)
        for c in s.outputs
        if c not in OWN_COLUMNS
    }
    found = []
    for path in ROOT.rglob("*.py"):
        top = path.relative_to(ROOT).parts[0]
        if top == "pipelines":
            continue
        tree = ast.parse(path.read_text())
        names = {**(stages if top != "stages" else {}), **pipelines}
        hits = {s: names[s] for s in strings(tree) & names.keys()}
        if top in ("core", "run", "publish", "cli"):
            hits |= {c: written[c] for c in columns(tree) & written.keys()}
        found += [f"{path.relative_to(ROOT)}: '{s}' ({what})" for s, what in hits.items()]
    assert not found, "\n".join(sorted(found))
