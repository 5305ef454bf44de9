"""Models: the zoo schema and weights, the backend registry, the backends and the catalogue.
The plugin names (docs/zoo.md) load on first use: ``infogauss check`` must not import pydantic."""

from __future__ import annotations

import importlib

_PUBLIC = dict.fromkeys(("Backend", "BackendSpec", "Encoder", "LayerSet"), "registry")
_PUBLIC |= {"prepare_text": "registry", "register_backend": "registry"}
_PUBLIC |= {"SourceSchema": "zoo_schema", "ZooEntry": "zoo_schema", "WeightsStatus": "weights"}
_PUBLIC |= {"build_encoder": "catalogue", "load_zoo": "catalogue"}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> object:
    if name in _PUBLIC:
        return getattr(importlib.import_module(f"{__name__}.{_PUBLIC[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
