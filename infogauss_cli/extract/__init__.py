"""Encoder x items -> float32 embeddings; names are imported from their modules on first use."""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "engine": ("extract",),
    "loader": ("default_workers",),
    "model": ("ExtractedFile", "extract_to_file", "resolve_towers", "select_items"),
    "plan": ("EngineOptions", "Plan", "Shard", "chunk_size", "make_plan", "owned_chunks"),
    "result": ("SKIPPED_SHOWN", "Extraction", "ShardWork"),
    "runner": ("default_batch_size", "resolve_device", "resolve_precision"),
}
_WHERE = {name: module for module, names in _LAZY.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    globals()[name] = value
    return value
