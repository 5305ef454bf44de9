"""The backend registry (objects, ``"module:attribute"`` imported on first use, or entry points of
``infogauss.backends``), the Backend contract, and the entry points of installed plugins."""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from infogauss_cli.core.errors import BadInputError

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from infogauss_cli.models.weights import WeightsStatus
    from infogauss_cli.models.zoo_schema import SourceSchema, ZooEntry

Batch = dict[str, "torch.Tensor"]


@dataclass(frozen=True)
class LayerSet:
    """Per-layer outputs for ``--layers``: ``forward(module, batch) -> [Tensor(B, d_k)]``."""

    names: tuple[str, ...]
    forward: Callable[[torch.nn.Module, Batch], Sequence[torch.Tensor]]
    dims: tuple[int, ...]
    pooling: str


@dataclass
class Encoder:
    """One tower of one model, ready to embed (docs/zoo.md): ``prepare`` runs per item in
    DataLoader workers (picklable), ``collate`` makes batch-first CPU tensors (a text collate may
    have ``token_lengths(texts)``), ``forward`` gives ``(B, dim)``; ``fingerprint``: cache key."""

    model_id: str
    tower: Literal["image", "text"]
    dim: int
    module: torch.nn.Module
    prepare: Callable[[object], object]
    collate: Callable[[list[object]], Batch]
    forward: Callable[[torch.nn.Module, Batch], torch.Tensor]
    fingerprint: dict[str, str] = field(default_factory=dict)
    channels_last: bool = False
    layers: LayerSet | None = None


def prepare_text(text: object) -> str:
    """Text items pass through as str; tokenisation happens per batch in collate."""
    return str(text)


@dataclass(frozen=True)
class BackendSpec:
    """What a backend provides (docs/zoo.md; any object with these attributes works too):
    ``build(entry, tower)`` gives an eval-mode float32 CPU :class:`Encoder` (``RunError`` offline,
    ``BadInputError`` for a bad entry); ``check``, ``weights_status`` and the optional
    ``quick_status`` (without the library) use no network."""

    name: str
    source_schema: type[SourceSchema]
    build: Callable[[ZooEntry, str], Encoder]
    check: Callable[[ZooEntry], None]
    weights_status: Callable[[ZooEntry], WeightsStatus]
    towers: tuple[str, ...] | None = None
    quick_status: Callable[[ZooEntry], WeightsStatus | None] | None = None


Backend = BackendSpec  # the contract's name in type hints


_BUILT_IN = ("timm", "open_clip", "transformers", "sentence-transformers")
_REGISTRY: dict[str, Backend | str] = {
    n: f"infogauss_cli.models.backends.{n.replace('-', '_')}:BACKEND" for n in _BUILT_IN
}


@functools.cache
def entry_point_specs(group: str) -> tuple[tuple[str, str], ...]:
    """``(name, "module:attribute")`` of every entry point in ``group`` (read once)."""
    from importlib.metadata import entry_points

    return tuple((ep.name, ep.value) for ep in entry_points(group=group))


def register_backend(backend: Backend | str, *, name: str | None = None) -> None:
    """Register ``backend`` (an object, or ``"module:attribute"`` with ``name``); last one wins."""
    if isinstance(backend, str) and not name:
        raise ValueError("register_backend('module:attribute') needs name=")
    _REGISTRY[name or backend.name] = backend  # type: ignore[union-attr]


def backend_names() -> tuple[str, ...]:
    for name, value in entry_point_specs("infogauss.backends"):
        _REGISTRY.setdefault(name, value)
    return tuple(_REGISTRY)


def get_backend(name: str) -> Backend:
    if name not in backend_names():
        raise BadInputError(f"unknown backend {name!r} (use one of {', '.join(_REGISTRY)})")
    found = _REGISTRY[name]
    if isinstance(found, str):
        module, _, attr = found.partition(":")
        found = getattr(importlib.import_module(module), attr or "BACKEND")
        _REGISTRY[name] = found
    return found  # type: ignore[return-value]
