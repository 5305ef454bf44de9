"""The package uses only the public face of typer, click and the model libraries: no module under
infogauss_cli imports a name starting with ``_`` from them (an AST scan, late imports included).
The one exception: typer's vendored click exceptions, in cli/main.py only."""

from __future__ import annotations

import ast
from pathlib import Path

import infogauss_cli

LIBRARIES = {"typer", "click", "torchvision", "timm", "open_clip", "transformers"}
ALLOWED = {("cli/main.py", "typer._click.exceptions")}
ROOT = Path(infogauss_cli.__file__).parent


def _private(module: str, names: list[str]) -> list[str]:
    parts = module.split(".")
    if parts[0] not in LIBRARIES:
        return []
    if any(p.startswith("_") for p in parts[1:]):
        return [module]
    return [f"{module}.{n}" for n in names if n.startswith("_")]


def _violations() -> list[str]:
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                hits = [h for a in node.names for h in _private(a.name, [])]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                hits = _private(node.module, [a.name for a in node.names])
                if (rel, node.module) in ALLOWED:
                    hits = [h for h in hits if h != node.module]
            else:
                continue
            found += [f"{rel}:{node.lineno}: {h}" for h in hits]
    return found


def test_no_private_imports_from_typer_click_or_model_libraries():
    assert _violations() == []


def test_the_scan_sees_private_imports():
    assert _private("typer._coercion", ["build_runtime_param"]) == ["typer._coercion"]
    assert _private("typer.main", ["_split_opt"]) == ["typer.main._split_opt"]
    assert _private("timm.models", ["create_model"]) == []
    assert _private("numpy._core", ["x"]) == []
