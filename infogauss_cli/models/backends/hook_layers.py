"""Per-layer outputs of timm and open_clip models (``--layers``), from forward hooks.

timm: one layer per entry of the model's ``feature_info`` (ViT blocks, CNN stages), numbered
from ``L1``; each block or stage output is pooled the way the final embedding is: ViT-style
tokens go through the model's final ``norm`` and ``forward_head(pre_logits=True)`` (CLS token
or average, as the model pools), feature maps through ``forward_head(pre_logits=True)``
(global average pooling). When the last stage is not yet the embedding (EfficientNet's
``conv_head`` follows it), the final embedding is appended as one more layer.

open_clip: ``L0`` is the input of the transformer (the embeddings after ``ln_pre``) and ``Lk``
the output of residual block k; image towers pool each with the model's own ``_pool``
(``ln_post``, CLS or average) and projection, text towers with ``ln_final``, the end-of-text
token and the text projection. So the last layer's row is the final embedding.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from infogauss_cli.models.backends.base import LayerSet

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from infogauss_cli.models.backends.base import Encoder


def _hooked(modules: list[Any], run: Callable[[], Any], pre: Any = None) -> tuple[Any, list]:
    """Run ``run()`` with forward hooks on ``modules`` (and a pre-hook on ``pre``); returns
    (its result, the captured inputs/outputs in order)."""
    captured: dict[int, Any] = {}
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


# ---- timm ----------------------------------------------------------------------------------------
class TimmLayers:
    """``forward(module, batch)`` of a timm model's feature_info stages."""

    def __init__(self, names: list[str], final: Callable, append_final: bool) -> None:
        self.names, self.final, self.append_final = names, final, append_final

    def __call__(self, module: Any, batch: dict[str, torch.Tensor]) -> list[torch.Tensor]:
        mods = [module.get_submodule(n) for n in self.names]
        final, outs = _hooked(mods, lambda: self.final(module, batch))
        norm = getattr(module, "norm", None)
        pooled = []
        for h in outs:
            if h.ndim == 3 and norm is not None:  # tokens: the final norm, then the head's pool
                h = norm(h)
            pooled.append(module.forward_head(h, pre_logits=True))
        return [*pooled, final] if self.append_final else pooled


def attach_timm(encoder: Encoder) -> Encoder:
    info = getattr(encoder.module, "feature_info", None)
    try:
        stages = [(str(fi["module"]), int(fi["num_chs"])) for fi in info or ()]
    except (KeyError, TypeError):
        return encoder
    if not stages:
        return encoder
    append = stages[-1][1] != encoder.dim
    dims = tuple(c for _, c in stages) + ((encoder.dim,) if append else ())
    layers = LayerSet(
        names=tuple(f"L{k + 1}" for k in range(len(dims))),
        forward=TimmLayers([n for n, _ in stages], encoder.forward, append),
        dims=dims,
        pooling="block/stage k output through the model's final norm (tokens) and "
        "forward_head(pre_logits=True)"
        + ("; the last layer is the final embedding" if append else ""),
    )
    return dataclasses.replace(encoder, layers=layers)


# ---- open_clip -----------------------------------------------------------------------------------
def _batch_first(transformer: Any, h: torch.Tensor) -> torch.Tensor:
    return h if getattr(transformer, "batch_first", True) else h.transpose(0, 1)


def layers_open_clip_image(module: Any, batch: dict[str, torch.Tensor]) -> list[torch.Tensor]:
    visual = module.visual
    tr = visual.transformer
    _, outs = _hooked(list(tr.resblocks), lambda: module.encode_image(batch["pixel_values"]), tr)
    res = []
    for h in outs:
        pooled, _ = visual._pool(_batch_first(tr, h) if h is not outs[0] else h)
        res.append(pooled @ visual.proj if visual.proj is not None else pooled)
    return res


def layers_open_clip_text(module: Any, batch: dict[str, torch.Tensor]) -> list[torch.Tensor]:
    from open_clip.transformer import text_global_pool

    tr = module.transformer
    ids = batch["input_ids"]
    _, outs = _hooked(list(tr.resblocks), lambda: module.encode_text(ids), tr)
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
    """Image towers with a ViT visual; text towers of the plain CLIP class."""
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
    layers = LayerSet(
        names=tuple(f"L{k}" for k in range(n + 1)),
        forward=forward,
        dims=(encoder.dim,) * (n + 1),
        pooling="hidden state k through the tower's own final norm, pooling and projection",
    )
    return dataclasses.replace(encoder, layers=layers)
