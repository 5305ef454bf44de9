"""A fit on disk: ``FIT.safetensors`` (float64 tensors, no pickle) and its ``FIT.json`` sidecar
(schema, sizes, estimator, classes, provenance and the tensors' sha256), both written atomically."""

from __future__ import annotations

import hashlib
import json
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
    path = Path(path)
    if path.suffix == ".json":
        path = path.with_suffix(".safetensors")
    return path, path.with_suffix(".json")


def _tensors(fit: Any, prefix: str = "") -> dict[str, np.ndarray]:
    t = {f"{prefix}{k}": getattr(fit, k) for k in ARRAYS[:4]}
    t[f"{prefix}scatter_eigenvalues"] = fit._null["scatter"]
    return {k: np.ascontiguousarray(v, dtype=np.float64) for k, v in t.items()}


def _meta(fit: Any) -> dict[str, Any]:
    return {"n": fit.n, "d": fit.d, "rank": fit.rank, "shrinkage": fit.shrinkage,
            "intensity": fit.intensity, "reason": fit.reason}  # fmt: skip


def save_fit(fit: Any, path: str | Path) -> None:
    """Write the tensors, then the sidecar that names their sha256."""
    from safetensors.numpy import save

    tensors_path, sidecar = paths(path)
    tensors = _tensors(fit)
    r = fit.rank
    tensors["whiten_zca"] = (
        fit.eigenvectors[:, :r] / np.sqrt(fit.eigenvalues[:r]) @ fit.eigenvectors[:, :r].T
    )
    tensors["whiten_pca"] = (fit.eigenvectors[:, :r] / np.sqrt(fit.eigenvalues[:r])).T.copy()
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


def _read(tensors_path: Path, sidecar: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    from safetensors.numpy import load

    for p in (tensors_path, sidecar):
        if not p.is_file():
            raise BadInputError(
                f"fit file {p} does not exist (write one with `infogauss fit --out`)"
            )
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInputError(f"fit sidecar {sidecar} is not valid JSON: {exc}") from None
    if not isinstance(meta, dict) or meta.get("schema") != SCHEMA:
        got = meta.get("schema") if isinstance(meta, dict) else type(meta).__name__
        raise BadInputError(f"fit sidecar {sidecar} has schema {got!r}, expected {SCHEMA!r}")
    data = tensors_path.read_bytes()
    if hashlib.sha256(data).hexdigest() != meta.get("sha256"):
        raise BadInputError(
            f"fit file {tensors_path} does not match the sha256 of its sidecar {sidecar.name} "
            "(changed or corrupt): fit again"
        )
    try:
        return meta, load(data)
    except Exception as exc:  # safetensors raises its own error types
        raise BadInputError(
            f"fit file {tensors_path} is not a readable safetensors file: {exc}"
        ) from None


def _one(cls: type, meta: dict[str, Any], t: dict[str, np.ndarray], prefix: str, view: str) -> Any:
    try:
        a = {k: t[f"{prefix}{k}"] for k in ARRAYS}
        n, d = int(meta["n"]), int(meta["d"])
        ok = a["mean"].shape == (d,) and a["covariance"].shape == (d, d)
        if not ok or a["eigenvectors"].shape != (d, d) or a["eigenvalues"].shape != (d,):
            raise ValueError(f"tensor shapes do not match d={d}")
        return cls(a["mean"], a["covariance"], a["eigenvalues"], a["eigenvectors"], n,
                   str(meta["shrinkage"]), float(meta["intensity"]), str(meta["reason"]), view,
                   _null={"scatter": a["scatter_eigenvalues"]})  # fmt: skip
    except (KeyError, TypeError, ValueError) as exc:
        raise BadInputError(
            f"fit file is incomplete or inconsistent ({prefix or 'pooled'}: {exc})"
        ) from None


def load_fit(cls: type, path: str | Path) -> Any:
    """The fit saved at ``path`` (its ``.safetensors`` or ``.json``)."""
    meta, t = _read(*paths(path))
    view = str(meta.get("view", "raw"))
    pooled = _one(cls, meta, t, "", view)
    classes = {str(c.get("name")): _one(cls, c, t, f"class/{i}/", view)
               for i, c in enumerate(meta.get("classes") or [])}  # fmt: skip
    return cls(pooled.mean, pooled.covariance, pooled.eigenvalues, pooled.eigenvectors, pooled.n,
               pooled.shrinkage, pooled.intensity, pooled.reason, view, classes,
               dict(meta.get("provenance") or {}), pooled._null)  # fmt: skip
