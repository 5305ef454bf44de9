"""A fit on disk: ``FIT.safetensors`` (float64 tensors, no pickle) and its ``FIT.json`` sidecar
(schema, sizes, estimator, classes, provenance and the tensors' sha256), both written atomically."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from infogauss_cli import __version__
from infogauss_cli.core.atomic import atomic_write_bytes, atomic_write_text
from infogauss_cli.core.errors import BadInputError

SCHEMA = "infogauss.fit/v1"
ARRAYS = ("mean", "covariance", "eigenvalues", "eigenvectors", "scatter_eigenvalues")


def paths(path: str | Path) -> tuple[Path, Path]:
    """(tensors, sidecar): ``FIT.safetensors`` and ``FIT.json`` (either may be named)."""
    path = Path(path).with_suffix(".safetensors") if str(path).endswith(".json") else Path(path)
    return path, path.with_suffix(".json")


def _tensors(fit: Any, prefix: str = "") -> dict[str, np.ndarray]:
    t = {k: getattr(fit, k) for k in ARRAYS[:4]} | {"scatter_eigenvalues": fit._null["scatter"]}
    return {prefix + k: np.ascontiguousarray(v, dtype=np.float64) for k, v in t.items()}


def _meta(fit: Any) -> dict[str, Any]:
    return {"n": fit.n, "d": fit.d, "rank": fit.rank, "shrinkage": fit.shrinkage,
            "intensity": fit.intensity, "reason": fit.reason}  # fmt: skip


def save_fit(fit: Any, path: str | Path) -> None:
    """Write the tensors (and the pooled whitening matrices), then the sidecar with their sha256."""
    from safetensors.numpy import save

    tensors_path, sidecar = paths(path)
    vec = fit.eigenvectors[:, : fit.rank]
    pca = (vec / np.sqrt(fit.eigenvalues[: fit.rank])).T
    tensors = _tensors(fit) | {"whiten_pca": pca.copy(), "whiten_zca": vec @ pca}
    names = list(fit.classes)
    for i, name in enumerate(names):
        tensors |= _tensors(fit.classes[name], f"class/{i}/")
    data = save(tensors)
    atomic_write_bytes(tensors_path, data, parents=True)
    meta = {"schema": SCHEMA, **_meta(fit), "view": fit.view,
            "classes": [{"name": k, **_meta(fit.classes[k])} for k in names],
            "provenance": dict(fit.provenance), "infogauss": __version__,
            "tensors": tensors_path.name, "sha256": hashlib.sha256(data).hexdigest()}  # fmt: skip
    atomic_write_text(sidecar, json.dumps(meta, indent=2, default=str) + "\n")


def load_fit(cls: type, path: str | Path) -> Any:
    """The fit saved at ``path`` (its ``.safetensors`` or ``.json``)."""
    from safetensors.numpy import load

    tensors_path, sidecar = paths(path)
    if missing := [str(p) for p in (tensors_path, sidecar) if not p.is_file()]:
        raise BadInputError(f"fit file {missing[0]} does not exist (write it with infogauss fit)")
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInputError(f"fit sidecar {sidecar} is not valid JSON: {exc}") from None
    if not isinstance(meta, dict) or meta.get("schema") != SCHEMA:
        got = meta.get("schema") if isinstance(meta, dict) else type(meta).__name__
        raise BadInputError(f"fit sidecar {sidecar} has schema {got!r}, expected {SCHEMA!r}")
    data = tensors_path.read_bytes()
    if hashlib.sha256(data).hexdigest() != meta.get("sha256"):
        msg = f"fit file {tensors_path} does not match the sha256 in {sidecar.name}: fit again"
        raise BadInputError(msg)
    try:
        t = load(data)
    except Exception as exc:  # safetensors raises its own error types
        raise BadInputError(f"fit file {tensors_path} is not valid safetensors: {exc}") from None
    view = str(meta.get("view", "raw"))
    classes = {str(c.get("name")): _one(cls, c, t, f"class/{i}/", view)
               for i, c in enumerate(meta.get("classes") or [])}  # fmt: skip
    pooled = _one(cls, meta, t, "", view)
    return replace(pooled, classes=classes, provenance=dict(meta.get("provenance") or {}))


def _one(cls: type, meta: dict[str, Any], t: dict[str, np.ndarray], prefix: str, view: str) -> Any:
    try:
        a = {k: t[f"{prefix}{k}"] for k in ARRAYS}
        n, d = int(meta["n"]), int(meta["d"])
        shapes = [a[k].shape for k in ARRAYS]
        if shapes != [(d,), (d, d), (d,), (d, d), (d,)]:
            raise ValueError(f"tensor shapes {shapes} do not match d={d}")
        return cls(a["mean"], a["covariance"], a["eigenvalues"], a["eigenvectors"], n,
                   str(meta["shrinkage"]), float(meta["intensity"]), str(meta["reason"]), view,
                   _null={"scatter": a["scatter_eigenvalues"]})  # fmt: skip
    except (KeyError, TypeError, ValueError) as exc:
        msg = f"fit file is incomplete or inconsistent ({prefix or 'pooled'}: {exc})"
        raise BadInputError(msg) from None
