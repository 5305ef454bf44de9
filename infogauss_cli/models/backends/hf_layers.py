"""Per-layer outputs of a transformers model (``--layers``), from ``output_hidden_states``.

``L0`` is the embedding output and ``Lk`` the output of block k. Each is pooled the way the
entry's final embedding is: ``mean``: masked mean over real tokens; ``cls``: token 0; ``clip``:
the model's own head on each layer (image: CLS token, ``post_layernorm``,
``visual_projection``; text: ``final_layer_norm``, the end-of-text token, ``text_projection``),
so the last layer's row is exactly the final embedding.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from infogauss_cli.models.backends.base import LayerSet

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from infogauss_cli.models.backends.base import Encoder


def _masked_mean(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    hidden = hidden.float()
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)


def layers_mean(module: Any, batch: dict[str, torch.Tensor]) -> list[torch.Tensor]:
    hs = module(**batch, output_hidden_states=True).hidden_states
    return [_masked_mean(h, batch["attention_mask"]) for h in hs]


def layers_cls(module: Any, batch: dict[str, torch.Tensor]) -> list[torch.Tensor]:
    return [h[:, 0] for h in module(**batch, output_hidden_states=True).hidden_states]


def layers_clip_image(module: Any, batch: dict[str, torch.Tensor]) -> list[torch.Tensor]:
    vision = module.vision_model
    hs = vision(pixel_values=batch["pixel_values"], output_hidden_states=True).hidden_states
    return [module.visual_projection(vision.post_layernorm(h[:, 0])) for h in hs]


def _eos_index(text_model: Any, input_ids: torch.Tensor) -> torch.Tensor:
    """Where transformers' CLIP text model takes its pooled token."""
    import torch

    eos = getattr(text_model, "eos_token_id", None)
    if eos is None or eos == 2:  # legacy configs: the highest token id is end-of-text
        return input_ids.to(dtype=torch.int).argmax(dim=-1)
    return (input_ids == eos).int().argmax(dim=-1)


def layers_clip_text(module: Any, batch: dict[str, torch.Tensor]) -> list[torch.Tensor]:
    import torch

    text = module.text_model
    ids = batch["input_ids"]
    out = text(input_ids=ids, attention_mask=batch.get("attention_mask"), output_hidden_states=True)
    idx = _eos_index(text, ids)
    rows = torch.arange(ids.shape[0], device=ids.device)
    return [module.text_projection(text.final_layer_norm(h)[rows, idx]) for h in out.hidden_states]


POOLING = {
    "mean": (layers_mean, "masked mean over real tokens of hidden state k"),
    "cls": (layers_cls, "token 0 of hidden state k"),
    "clip": (None, "the CLIP head (final norm, pooled token, projection) on hidden state k"),
}


def attach_layers(encoder: Encoder, pooling: str, tower: str, n_blocks: int) -> Encoder:
    """``encoder`` with its :class:`LayerSet` (``n_blocks`` + 1 layers, all ``encoder.dim``)."""
    forward, how = POOLING[pooling]
    if forward is None:
        forward = layers_clip_image if tower == "image" else layers_clip_text
    layers = LayerSet(
        names=tuple(f"L{k}" for k in range(n_blocks + 1)),
        forward=forward,
        dims=(encoder.dim,) * (n_blocks + 1),
        pooling=how,
    )
    return dataclasses.replace(encoder, layers=layers)
