"""Read back what ``infogauss extract`` wrote: the matrix, its ids and its metadata."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np


def load_embeddings(path: str | Path) -> SimpleNamespace:
    """``embeddings``, ``ids`` and ``meta`` of a ``.npy`` (with its ``.ids.json``) or
    ``.safetensors`` output file."""
    path = Path(path)
    if path.suffix == ".npy":
        info = json.loads(path.with_name(path.stem + ".ids.json").read_text())
        return SimpleNamespace(embeddings=np.load(path), ids=tuple(info["ids"]), meta=info["meta"])
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as f:
        header = f.metadata()
        arr = f.get_tensor("embeddings")
    meta = json.loads(header["meta"])
    return SimpleNamespace(embeddings=arr, ids=tuple(json.loads(header["ids"])), meta=meta)
