"""Models: the zoo schema and weights, the backend registry, the backends and the catalogue.

The names a backend plugin needs are importable from here (docs/zoo.md). They load on first use:
``infogauss check`` imports this package and must not import pydantic.
"""

from __future__ import annotations

import importlib

_PUBLIC = {
    "Backend": "registry",
    "BackendSpec": "registry",
    "Encoder": "registry",
    "LayerSet": "registry",
    "prepare_text": "registry",
    "register_backend": "registry",
    "unregister_backend": "registry",
    "SourceSchema": "zoo_schema",
    "ZooEntry": "zoo_schema",
    "WeightsStatus": "weights",
    "build_encoder": "catalogue",
    "load_zoo": "catalogue",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> object:
    if name in _PUBLIC:
        return getattr(importlib.import_module(f"{__name__}.{_PUBLIC[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
