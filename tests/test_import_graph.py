"""The package's layering (docs/architecture.md): no import circle, counting imports inside
functions and under TYPE_CHECKING (a circle closed by a late import breaks only when the late
import runs); no import up the stage list; no own-module import inside a function unless it
defers a heavy third-party library."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "infogauss_cli"
DOC = ROOT.parent / "docs" / "architecture.md"
HEAVY = {"torch", "torchvision", "timm", "open_clip", "transformers", "datasets", "matplotlib"}
HEAVY |= {"scipy", "numpy", "PIL", "pydantic", "jinja2", "yaml", "sentence_transformers"}
HEAVY |= {"safetensors", "lightning", "pyarrow", "simplejpeg", "rich", "platformdirs"}
DOORS = {"infogauss_cli", "infogauss_cli.__main__"}


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """{module: the package's modules it imports anywhere in its body}."""
    modules = {_module(f): f for f in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(up + ([base] if base else []))
                for alias in node.names:
                    found = next((c for c in (f"{base}.{alias.name}", base) if c in modules), None)
                    if found:
                        deps.add(found)
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name in modules}
        graph[name] = {d for d in deps if d != name and not name.startswith(d + ".")}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_no_import_circles() -> None:
    assert circles(import_graph()) == []


def test_the_check_sees_a_circle() -> None:
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def stages() -> list[str]:
    """The stage list of docs/architecture.md, bottom first."""
    return re.findall(r"^\d+\. `(\w+)`", DOC.read_text(encoding="utf-8"), re.M)


def stage(module: str) -> str:
    return module.split(".")[1]


def test_the_stages_are_the_folders() -> None:
    folders = {p.parent.name for p in ROOT.glob("*/__init__.py")}
    loose = {p.stem for p in ROOT.glob("*.py")} - {"__init__", "__main__"}
    assert set(stages()) == folders and not loose


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    rank = {name: i for i, name in enumerate(stages())}
    return sorted(
        f"{a} -> {b}"
        for a, deps in graph.items()
        if a not in DOORS
        for b in deps
        if b not in DOORS and rank[stage(b)] > rank[stage(a)]
    )


def test_no_import_runs_up_the_stages() -> None:
    assert upward_imports(import_graph()) == []


def _top_level_imports(path: Path) -> set[str]:
    """Absolute names imported at module level (not inside a function; TYPE_CHECKING aside)."""
    found: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                found.add(node.module)
                found.update(f"{node.module}.{a.name}" for a in node.names)
            elif isinstance(node, ast.If) and "TYPE_CHECKING" not in ast.unparse(node.test):
                visit(node.body + node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)

    visit(ast.parse(path.read_text(encoding="utf-8")).body)
    return found


def _modules() -> dict[str, Path]:
    return {_module(f): f for f in ROOT.rglob("*.py")}


def _pulls_heavy(module: str, modules: dict[str, Path], seen: set[str]) -> bool:
    """``module`` imports a heavy library at import time, itself or through the package."""
    if module in seen or module not in modules:
        return False
    seen.add(module)
    names = _top_level_imports(modules[module])
    if any(n.split(".")[0] in HEAVY for n in names):
        return True
    return any(_pulls_heavy(n, modules, seen) for n in names if n in modules)


def late_own_imports() -> list[str]:
    """``file:line module`` of own-module imports inside functions that defer nothing heavy."""
    modules = _modules()
    out = []
    for path in modules.values():
        for fn in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                    "infogauss_cli"
                ):
                    targets = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
                    target = next(t for t in targets if t in modules or t == node.module)
                    if not _pulls_heavy(target, modules, set()):
                        out.append(f"{path.relative_to(ROOT)}:{node.lineno} {target}")
    return sorted(out)


def test_imports_inside_functions_only_defer_heavy_libraries() -> None:
    assert late_own_imports() == []


if __name__ == "__main__":  # the worklist: python tests/test_import_graph.py
    graph = import_graph()
    print("circles:", circles(graph))
    print("\n".join(["upward:", *upward_imports(graph), "late:", *late_own_imports()]))
    sys.exit(0)
