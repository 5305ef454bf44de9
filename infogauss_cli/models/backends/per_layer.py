"""Per-layer profiles (``--layers``): one :class:`Encoder` per selected layer, the model run once
per batch for all; and the layer hooks of timm and open_clip models."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.core.options import ALL
from infogauss_cli.models.registry import Batch, Encoder, LayerSet

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


def _digest(batch: Batch) -> str:
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


class LayerForward:
    """``forward`` of layer ``k``'s encoder: one model run per batch serves every pending layer
    (the others' outputs wait in ``memo``, keyed by the batch's digest); ``done()`` frees them."""

    def __init__(self, layers: LayerSet, pending: set[int], memo: dict, k: int) -> None:
        self.layers, self.pending, self.memo, self.k = layers, pending, memo, k

    def __call__(self, module: torch.nn.Module, batch: Batch) -> torch.Tensor:
        key = _digest(batch)
        hit = self.memo.pop((key, self.k), None)
        if hit is not None:
            return hit
        outs = self.layers.forward(module, batch)
        for j in self.pending - {self.k}:
            self.memo[(key, j)] = outs[j].detach().clone()
        return outs[self.k]

    def done(self) -> None:
        self.pending.discard(self.k)
        for key in [key for key in self.memo if key[1] == self.k]:
            del self.memo[key]


def layer_encoders(
    encoder: Encoder, spec: str | tuple[int, ...], model: str | None = None
) -> list[tuple[int, str, Encoder]]:
    """``(index, name, encoder)`` for each layer ``spec`` selects; each ``model_id`` is
    ``"{model} {name}"``. Call ``encoder.forward.done()`` after its extraction."""
    model = model or encoder.model_id
    layers = encoder.layers
    if layers is None:
        raise BadInputError(f"--layers: the backend of {model} gives no per-layer outputs")
    picked = select(spec, layers.names, model)
    pending, memo = set(picked), {}  # type: ignore[var-annotated]
    out = []
    for k in picked:
        name = layers.names[k]
        fp = {**encoder.fingerprint, "layer": name, "layer_pooling": layers.pooling}
        enc = dataclasses.replace(
            encoder,
            model_id=f"{model} {name}",
            dim=layers.dims[k],
            forward=LayerForward(layers, pending, memo, k),
            fingerprint=fp,
            layers=None,
        )
        out.append((k, name, enc))
    return out


def with_layers(
    encoder: Encoder, forward: Callable, dims: Sequence[int], pooling: str, first: int = 0
) -> Encoder:
    """``encoder`` with a :class:`LayerSet` of ``len(dims)`` layers named from ``L{first}``."""
    names = tuple(f"L{first + k}" for k in range(len(dims)))
    return dataclasses.replace(encoder, layers=LayerSet(names, forward, tuple(dims), pooling))


def hooked(
    modules: Sequence[torch.nn.Module],
    run: Callable[[], torch.Tensor],
    pre: torch.nn.Module | None = None,
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """``run()``'s result and the outputs of ``modules`` (first the input of ``pre``)."""
    captured: dict[int, torch.Tensor] = {}
    handles = []
    if pre is not None:
        handles.append(
            pre.register_forward_pre_hook(lambda m, args: captured.__setitem__(-1, args[0]))
        )
    for i, mod in enumerate(modules):
        handles.append(mod.register_forward_hook(lambda m, a, o, i=i: captured.__setitem__(i, o)))
    try:
        result = run()
    finally:
        for h in handles:
            h.remove()
    return result, [captured[k] for k in sorted(captured)]


class TimmLayers:
    def __init__(self, names: list[str], final: Callable, append_final: bool) -> None:
        self.names, self.final, self.append_final = names, final, append_final

    def __call__(self, module: torch.nn.Module, batch: Batch) -> list[torch.Tensor]:
        mods = [module.get_submodule(n) for n in self.names]
        final, outs = hooked(mods, lambda: self.final(module, batch))
        norm = getattr(module, "norm", None)
        pooled = []
        for h in outs:
            if h.ndim == 3 and norm is not None:  # tokens: the final norm, then the head's pool
                h = norm(h)
            pooled.append(module.forward_head(h, pre_logits=True))
        return [*pooled, final] if self.append_final else pooled


def attach_timm(encoder: Encoder) -> Encoder:
    """One layer per ``feature_info`` stage, and the final embedding when the last is not it."""
    info = getattr(encoder.module, "feature_info", None)
    try:
        stages = [(str(fi["module"]), int(fi["num_chs"])) for fi in info or ()]
    except (KeyError, TypeError):
        return encoder
    if not stages:
        return encoder
    append = stages[-1][1] != encoder.dim
    dims = tuple(c for _, c in stages) + ((encoder.dim,) if append else ())
    forward = TimmLayers([n for n, _ in stages], encoder.forward, append)
    how = "block/stage k output through the model's final norm (tokens) and forward_head("
    how += "pre_logits=True)" + ("; the last layer is the final embedding" if append else "")
    return with_layers(encoder, forward, dims, how, first=1)


def _batch_first(transformer: torch.nn.Module, h: torch.Tensor) -> torch.Tensor:
    return h if getattr(transformer, "batch_first", True) else h.transpose(0, 1)


def layers_open_clip_image(module: torch.nn.Module, batch: Batch) -> list[torch.Tensor]:
    visual = module.visual
    tr = visual.transformer
    _, outs = hooked(list(tr.resblocks), lambda: module.encode_image(batch["pixel_values"]), tr)
    res = []
    for h in outs:
        pooled, _ = visual._pool(_batch_first(tr, h) if h is not outs[0] else h)
        res.append(pooled @ visual.proj if visual.proj is not None else pooled)
    return res


def layers_open_clip_text(module: torch.nn.Module, batch: Batch) -> list[torch.Tensor]:
    from open_clip.transformer import text_global_pool

    tr = module.transformer
    ids = batch["input_ids"]
    _, outs = hooked(list(tr.resblocks), lambda: module.encode_text(ids), tr)
    eos = getattr(module, "text_eos_id", None)
    res = []
    for h in outs:
        x = module.ln_final(_batch_first(tr, h) if h is not outs[0] else h)
        x = text_global_pool(x, ids, module.text_pool_type, eos_token_id=eos)
        proj = module.text_projection
        if proj is not None:
            x = proj(x) if callable(proj) and not hasattr(proj, "shape") else x @ proj
        res.append(x)
    return res


def attach_open_clip(encoder: Encoder, tower: str) -> Encoder:
    module = encoder.module
    if tower == "image":
        tr = getattr(getattr(module, "visual", None), "transformer", None)
        forward = layers_open_clip_image
        ok = tr is not None and hasattr(module.visual, "_pool")
    else:
        tr = getattr(module, "transformer", None)
        forward = layers_open_clip_text
        ok = tr is not None and hasattr(module, "ln_final")
    if not ok or not hasattr(tr, "resblocks"):
        return encoder
    n = len(tr.resblocks)
    how = "hidden state k through the tower's own final norm, pooling and projection"
    return with_layers(encoder, forward, (encoder.dim,) * (n + 1), how)
