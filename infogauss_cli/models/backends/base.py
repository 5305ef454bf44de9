"""The contract between a backend (timm, open_clip, transformers) and the extractor.

A backend turns a zoo entry and a tower into an :class:`Encoder`. The extractor owns devices,
precision, batching and caching; the encoder only knows its model and its preprocessing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # pragma: no cover
    import torch

Tower = Literal["image", "text"]


@dataclass(frozen=True)
class LayerSet:
    """What a backend knows about its layers: ``names`` (index = position in ``forward``'s
    output), ``forward(module, batch) -> [Tensor(B, d_k)]`` for every layer, ``dims`` (d_k)
    and ``pooling`` (how each layer is pooled, in words)."""

    names: tuple[str, ...]
    forward: Callable[[Any, dict[str, Any]], Sequence[Any]]
    dims: tuple[int, ...]
    pooling: str


@dataclass
class Encoder:
    """One tower of one model, ready to embed.

    - ``prepare`` runs per item inside DataLoader workers, so it must be picklable:
      an RGB ``PIL.Image`` -> ``Tensor(C, H, W)`` for image towers, ``str`` -> ``str`` for text.
    - ``collate`` turns a list of prepared items into a dict of batch-first CPU tensors (stacked
      pixels, or tokenised text); the extractor slices them on dim 0 when it backs off on OOM.
      A text collate may have ``token_lengths(texts)`` (tokens per text, no padding): length
      buckets sort by it (:func:`~infogauss_cli.extract.loader.text_lengths`), else by
      characters.
    - ``forward(module, batch)`` gets the batch already on the module's device and returns the raw
      (unnormalised) embeddings, shape ``(B, dim)``, in whatever dtype autocast produced; the
      extractor casts to float32.
    - ``fingerprint`` identifies everything about the model that changes its outputs (backend,
      library name, weights identity, preprocessing, library versions); the cache keys on it.
    """

    model_id: str
    tower: Tower
    dim: int
    module: torch.nn.Module
    prepare: Callable[[Any], Any]
    collate: Callable[[list[Any]], dict[str, torch.Tensor]]
    forward: Callable[[torch.nn.Module, dict[str, torch.Tensor]], torch.Tensor]
    fingerprint: dict[str, str] = field(default_factory=dict)
    channels_last: bool = False  # CNNs: faster in channels_last memory format (CPU and CUDA)
    layers: LayerSet | None = None  # per-layer outputs for ``--layers`` (split by .layers)
