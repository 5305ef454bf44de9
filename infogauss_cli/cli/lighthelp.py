"""typer's rich help formatter without the parts infogauss's help never calls.

``typer.rich_utils`` imports ``rich.markdown`` (markdown-it, mdurl, and ``rich.emoji``'s code
table) for ``rich_markup_mode="markdown"``, and ``rich.traceback`` (pygments, ``rich.pretty``,
attrs) for pretty exceptions, at module level: about half of what ``infogauss --help`` costs
beyond typer and rich themselves (benchmarks/startup.py). The app uses markup mode ``"rich"``
and disables pretty exceptions, so neither is called. While ``typer.rich_utils`` is first
imported, stand-ins take the place of those names; a stand-in imports the real class if it is
ever used, and the real modules stay importable as usual. If typer's imports change so that the
stand-ins do not fit, the plain import runs instead.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
from types import ModuleType
from typing import Any

TARGET = "typer.rich_utils"
# module -> the names typer.rich_utils takes from it
DEFERRED = {
    "rich.markdown": ("Markdown",),
    "rich.traceback": ("Traceback",),
}


def _real(module: str, name: str) -> Any:
    return getattr(importlib.import_module(module), name)


class _StandInMeta(type):
    """Class attributes (``Traceback.from_exception``) come from the real class."""

    _origin: tuple[str, str]

    def __getattr__(cls, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        return getattr(_real(*cls._origin), attr)


def stand_in(module: str, name: str) -> type:
    """A class named ``name`` whose instances are instances of the real ``module.name``."""

    def new(cls: type, *args: Any, **kwargs: Any) -> Any:
        return _real(module, name)(*args, **kwargs)

    return _StandInMeta(name, (), {"_origin": (module, name), "__new__": new})


class _Loader:
    """Executes the real module with the stand-in modules in :data:`sys.modules`."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def create_module(self, spec: Any) -> Any:
        return self._real.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        placed = [m for m in DEFERRED if m not in sys.modules]
        for m in placed:
            stub = ModuleType(m)
            for name in DEFERRED[m]:
                setattr(stub, name, stand_in(m, name))
            sys.modules[m] = stub
        try:
            self._real.exec_module(module)
        except ImportError:  # typer wants more than the stand-ins give: the plain import
            for m in placed:
                sys.modules.pop(m, None)
            placed = []
            self._real.exec_module(module)
        finally:
            for m in placed:
                sys.modules.pop(m, None)

    def __getattr__(self, attr: str) -> Any:  # get_source, get_filename... for tracebacks
        return getattr(self._real, attr)


class _Finder:
    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name != TARGET:
            return None
        uninstall()
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader)
        return spec


_FINDER = _Finder()


def install() -> None:
    """Have the next import of ``typer.rich_utils`` (by typer, on ``--help`` or a usage error)
    skip the deferred modules; nothing to do once it is imported."""
    if TARGET not in sys.modules and _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)


def uninstall() -> None:
    if _FINDER in sys.meta_path:
        sys.meta_path.remove(_FINDER)


__all__ = ["install", "stand_in", "uninstall"]
