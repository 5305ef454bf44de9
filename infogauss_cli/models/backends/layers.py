"""Per-layer profiles (``--layers``): one :class:`~.base.Encoder` per layer of one model.

A backend that supports depth profiles attaches a :class:`LayerSet` to its encoder: the layer
names (``L0`` = the embeddings where there is such an output, then one per block) and a
``forward(module, batch)`` returning every layer's output *pooled the way the final embedding
is pooled*, in order. :func:`layer_encoders` turns that into one ordinary encoder per selected
layer, so the extractor, the cache (one entry per layer: the fingerprint gains ``layer``) and
the report need nothing new. The model runs once per batch for all layers: the first layer
that needs a batch computes every pending layer's output and keeps the others, keyed by a
digest of the batch, until their own extraction asks for them.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.core.options import ALL
from infogauss_cli.models.backends.base import Encoder, LayerSet

if TYPE_CHECKING:  # pragma: no cover
    import torch


def select(spec: str | tuple[int, ...], names: Sequence[str], model: str) -> list[int]:
    """The layer indices ``spec`` picks among ``names`` (sorted, unique)."""
    count = len(names)
    if spec == ALL:
        return list(range(count))
    picked = set()
    for i in spec:
        j = i + count if i < 0 else i
        if not 0 <= j < count:
            raise BadInputError(
                f"--layers: {model} has layers 0..{count - 1} ({names[0]}..{names[-1]}); "
                f"{i} is not one of them"
            )
        picked.add(j)
    return sorted(picked)


def _digest(batch: dict[str, Any]) -> str:
    import torch

    h = hashlib.blake2b(digest_size=16)
    for name in sorted(batch):
        t = batch[name]
        if isinstance(t, torch.Tensor):
            t = t.detach()
            if t.dtype == torch.bfloat16:
                t = t.view(torch.int16)
            h.update(f"{name}{tuple(t.shape)}{t.dtype}".encode())
            h.update(t.contiguous().cpu().numpy().tobytes())
    return h.hexdigest()


class _Tap:
    """Runs the model once per batch for all pending layers and hands each its output."""

    def __init__(self, layers: LayerSet, pending: Sequence[int]) -> None:
        self.layers, self.pending = layers, set(pending)
        self.memo: dict[tuple[str, int], torch.Tensor] = {}
        self.calls = 0  # model forward passes (for tests)

    def get(self, module: Any, batch: dict[str, Any], k: int) -> torch.Tensor:
        key = _digest(batch)
        hit = self.memo.pop((key, k), None)
        if hit is not None:
            return hit
        self.calls += 1
        outs = self.layers.forward(module, batch)
        for j in self.pending - {k}:
            self.memo[(key, j)] = outs[j].detach().clone()
        return outs[k]

    def done(self, k: int) -> None:
        """Layer ``k``'s extraction finished: keep nothing more for it."""
        self.pending.discard(k)
        for key in [key for key in self.memo if key[1] == k]:
            del self.memo[key]


class LayerForward:
    """``forward`` of one layer's encoder."""

    def __init__(self, tap: _Tap, k: int) -> None:
        self.tap, self.k = tap, k

    def __call__(self, module: Any, batch: dict[str, Any]) -> Any:
        return self.tap.get(module, batch, self.k)

    def done(self) -> None:
        self.tap.done(self.k)


def has_layers(encoder: Encoder) -> bool:
    return getattr(encoder, "layers", None) is not None


def layer_encoders(
    encoder: Encoder, spec: str | tuple[int, ...], model: str | None = None
) -> list[tuple[int, str, Encoder]]:
    """``(index, name, encoder)`` for each layer ``spec`` selects. Each encoder's
    ``model_id`` is ``"{model} {name}"`` and its fingerprint gains ``layer`` and the pooling;
    call ``encoder.forward.done()`` after its extraction to free what it kept."""
    model = model or encoder.model_id
    layers: LayerSet | None = getattr(encoder, "layers", None)
    if layers is None:
        raise BadInputError(f"--layers: the backend of {model} gives no per-layer outputs")
    picked = select(spec, layers.names, model)
    tap = _Tap(layers, picked)
    out = []
    for k in picked:
        name = layers.names[k]
        fp = {**encoder.fingerprint, "layer": name, "layer_pooling": layers.pooling}
        enc = dataclasses.replace(
            encoder,
            model_id=f"{model} {name}",
            dim=layers.dims[k],
            forward=LayerForward(tap, k),
            fingerprint=fp,
            layers=None,
        )
        out.append((k, name, enc))
    return out
