"""The house rules of docs/architecture.md, measured on the source: library size, module
length, parameter lists outside cli/, ``Any`` at the seams, and no patching of other
libraries' internals. ``python tests/test_house.py`` prints the worklist by stage."""

from __future__ import annotations

import ast
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "infogauss_cli"
MAX_LINES, MAX_MODULE, MAX_PARAMS, MAX_ANY = 16_000, 400, 6, 60


def _files() -> list[Path]:
    return sorted(ROOT.rglob("*.py"))


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _functions(path: Path) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]


def _params(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.arg]:
    a = fn.args
    named = [*a.posonlyargs, *a.args, *a.kwonlyargs]
    if named and named[0].arg in ("self", "cls"):
        named = named[1:]
    return named + [v for v in (a.vararg, a.kwarg) if v is not None]


def library_lines() -> int:
    return sum(len(p.read_text(encoding="utf-8").splitlines()) for p in _files())


def long_modules() -> list[str]:
    return [
        f"{_rel(p)}: {n} lines"
        for p in _files()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE
    ]


def long_signatures() -> list[str]:
    out = []
    for p in _files():
        if _rel(p).startswith("cli/"):
            continue
        for fn in _functions(p):
            a = fn.args
            k = len(_params(fn)) - (a.vararg is not None) - (a.kwarg is not None)
            if k > MAX_PARAMS:
                out.append(f"{_rel(p)}:{fn.lineno} {fn.name} takes {k}")
    return out


def any_parameters() -> Counter[str]:
    """Parameters annotated with ``Any`` (anywhere in the annotation), by stage."""
    found: Counter[str] = Counter()
    for p in _files():
        for fn in _functions(p):
            for arg in _params(fn):
                if arg.annotation is not None and "Any" in ast.unparse(arg.annotation):
                    found[_rel(p).split("/")[0]] += 1
    return found


def patches() -> list[str]:
    """Writes into ``sys.modules`` and matches on other libraries' private names."""
    out = []
    for p in _files():
        text = p.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(text)):
            targets = node.targets if isinstance(node, ast.Assign) else []
            if any(ast.unparse(t).startswith("sys.modules[") for t in targets):
                out.append(f"{_rel(p)}:{node.lineno} writes sys.modules")
        if "_convert_to_rgb" in text or "__class__ =" in text:
            out.append(f"{_rel(p)}: matches a private name or swaps a class")
    return out


def shadowed_modules() -> list[str]:
    """A package whose ``__init__`` defines a name that is also one of its modules."""
    out = []
    for init in ROOT.rglob("__init__.py"):
        modules = {p.stem for p in init.parent.glob("*.py")} | {
            p.parent.name for p in init.parent.glob("*/__init__.py")
        }
        for node in ast.parse(init.read_text(encoding="utf-8")).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in modules:
                out.append(f"{_rel(init)}: {node.name} is a function and a module")
    return out


def test_the_library_is_under_its_line_budget() -> None:
    assert library_lines() < MAX_LINES


def test_no_module_is_long() -> None:
    assert long_modules() == []


def test_library_functions_take_few_parameters() -> None:
    assert long_signatures() == []


def test_any_is_rare_at_the_seams() -> None:
    assert sum(any_parameters().values()) < MAX_ANY


def test_no_other_library_is_patched_and_no_module_is_shadowed() -> None:
    assert patches() + shadowed_modules() == []


if __name__ == "__main__":
    lines = Counter()
    for p in _files():
        lines[_rel(p).split("/")[0]] += len(p.read_text(encoding="utf-8").splitlines())
    print(f"library lines: {library_lines()} (< {MAX_LINES}); by stage: {dict(lines)}")
    print(
        f"Any parameters: {sum(any_parameters().values())} (< {MAX_ANY}); {dict(any_parameters())}"
    )
    print("\n".join([*long_modules(), *long_signatures(), *patches(), *shadowed_modules()]))
    sys.exit(0)
