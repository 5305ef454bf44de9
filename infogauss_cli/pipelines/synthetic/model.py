"""Encoders: a linear map (the paper's "Linear", default) or a small MLP. torch is imported
inside the functions."""

from __future__ import annotations

from typing import Any

from infogauss_cli.core.errors import BadInputError

ENCODERS = ("linear", "mlp")
LABELS = {"linear": "Linear", "mlp": "MLP"}


def build_encoder(kind: str, in_dim: int, out_dim: int, *, hidden: int = 256) -> Any:
    """``linear``: ``x -> W x`` (no bias: the paper's linear encoder, so the binary zero row
    is excluded from the data instead); ``mlp``: Linear-ReLU-Linear with ``hidden`` units.
    PyTorch's default initialisation; seed torch before calling for a reproducible init."""
    from torch import nn

    if kind == "linear":
        return nn.Linear(in_dim, out_dim, bias=False)
    if kind == "mlp":
        return nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, out_dim))
    raise BadInputError(f"unknown encoder {kind!r}; expected one of {', '.join(ENCODERS)}")
