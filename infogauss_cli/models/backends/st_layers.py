"""Per-layer outputs of a sentence-transformers model (``--layers``).

Layer ``L0`` is the transformer's embedding output and ``Lk`` the output of block k (the
Hugging Face ``hidden_states``). Each replaces the token embeddings the first module would
give, and the model's own remaining modules run on it: its Pooling (mean over real tokens for
MiniLM), any Dense layer, and its Normalize unless the entry says ``normalize: false``. So the
last layer's row is exactly the final embedding.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from infogauss_cli.models.backends.base import LayerSet

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from infogauss_cli.models.backends.base import Encoder
    from infogauss_cli.models.schema import ZooEntry

MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def _hf_model(first: Any) -> Any:
    return getattr(first, "auto_model", None) or getattr(first, "model", None)


def forward_layers(module: Any, batch: dict[str, torch.Tensor]) -> list[torch.Tensor]:
    """Every layer's token embeddings through the model's remaining modules."""
    modules = list(module)
    hf = _hf_model(modules[0])
    inputs = {k: v for k, v in batch.items() if k in MODEL_INPUTS}
    out = hf(**inputs, output_hidden_states=True, return_dict=True)
    res = []
    for hidden in out.hidden_states:
        features = {**batch, "token_embeddings": hidden}
        for m in modules[1:]:
            features = m(features)
        res.append(features["sentence_embedding"])
    return res


def attach_layers(encoder: Encoder, entry: ZooEntry) -> Encoder:
    """``encoder`` with its :class:`LayerSet` when the first module is a transformer."""
    import torch

    hf = _hf_model(encoder.module[0])
    if hf is None or not hasattr(hf, "config"):
        return encoder
    with torch.inference_mode():
        outs = forward_layers(encoder.module, encoder.collate(["layer probe"]))
    rest = [type(m).__name__ for m in list(encoder.module)[1:]]
    layers = LayerSet(
        names=tuple(f"L{k}" for k in range(len(outs))),
        forward=forward_layers,
        dims=tuple(int(o.shape[-1]) for o in outs),
        pooling="hidden state k through the model's " + (" + ".join(rest) or "identity"),
    )
    return dataclasses.replace(encoder, layers=layers)
