"""The zoo's table of backends: each ``backend:`` name -> the object that owns its schema, or
the ``"module:attribute"`` it is imported from on first use (timm's registry: a leaf that the
backend modules register into and the zoo reads). Holds the built-in backends' names, the ones
added by :func:`register_backend` and those of installed packages (entry point group
``infogauss.backends``). Of a backend the zoo reads only ``name``, ``source_schema`` and
``towers`` (:class:`BackendSchema`); what builds models is
:class:`~infogauss_cli.models.backend.Backend`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.core.plugins import entry_point_specs

if TYPE_CHECKING:  # pragma: no cover
    from infogauss_cli.models.schema import SourceSchema

ENTRY_POINT_GROUP = "infogauss.backends"


@runtime_checkable
class BackendSchema(Protocol):
    """What the zoo reads of a backend: its ``backend:`` name, the schema of its entries'
    ``source:`` block, and the towers its entries may have (None: any)."""

    name: str
    source_schema: type[SourceSchema]
    towers: tuple[str, ...] | None


_REGISTRY: dict[str, Any] = {}


def register_backend(backend: Any, *, name: str | None = None) -> None:
    """Register ``backend`` (an object, or ``"module:attribute"`` imported on first use, which
    needs ``name``). A later registration of the same name replaces the earlier one."""
    if isinstance(backend, str):
        if not name:
            raise ValueError("register_backend('module:attribute') needs name=")
        _REGISTRY[name] = backend
    else:
        _REGISTRY[name or backend.name] = backend


def unregister_backend(name: str) -> None:
    _REGISTRY.pop(name, None)


def _load_entry_points() -> None:
    for name, value in entry_point_specs(ENTRY_POINT_GROUP):
        _REGISTRY.setdefault(name, value)


def backend_names() -> tuple[str, ...]:
    """The registered backend names, in registration order."""
    _load_entry_points()
    return tuple(_REGISTRY)


def get_backend(name: str) -> Any:
    """The backend registered as ``name`` (imported on first use)."""
    _load_entry_points()
    found = _REGISTRY.get(name)
    if found is None:
        raise BadInputError(f"unknown backend {name!r} (use one of {', '.join(_REGISTRY)})")
    if isinstance(found, str):
        module, _, attr = found.partition(":")
        found = getattr(importlib.import_module(module), attr or "BACKEND")
        _REGISTRY[name] = found
    return found


# the built-in backends, one module each under infogauss_cli/backends/
register_backend("infogauss_cli.models.backends.timm:BACKEND", name="timm")
register_backend("infogauss_cli.models.backends.open_clip:BACKEND", name="open_clip")
register_backend("infogauss_cli.models.backends.hf:BACKEND", name="transformers")
register_backend("infogauss_cli.models.backends.st:BACKEND", name="sentence-transformers")

__all__ = [
    "ENTRY_POINT_GROUP",
    "BackendSchema",
    "backend_names",
    "get_backend",
    "register_backend",
    "unregister_backend",
]
