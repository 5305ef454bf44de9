"""Paired towers (an image and its caption): Wang-Isola alignment and the modality gap."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from infogauss_cli.diagnostics.validate import l2_normalise


@dataclass(frozen=True)
class PairedStats:
    """``alignment``: E ||u_a - u_b||^2 over the pairs of L2-normalised embeddings (Wang &
    Isola 2020, alpha = 2; 0 = identical, 2 = orthogonal on average); ``modality_gap``:
    ||mean u_a - mean u_b|| (Liang et al. 2022, "Mind the Gap"); ``n_pairs``."""

    alignment: float
    modality_gap: float
    n_pairs: int


def paired_stats(a: np.ndarray, b: np.ndarray) -> PairedStats:
    """Alignment and gap of row-paired matrices ``a`` and ``b`` (same shape: row i of a is
    paired with row i of b)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.ndim != 2 or a.shape[0] < 1:
        raise ValueError(f"paired matrices must have the same (n, d) shape: {a.shape}, {b.shape}")
    ua = l2_normalise(a).astype(np.float64, copy=False)
    ub = l2_normalise(b).astype(np.float64, copy=False)
    diff = ua - ub
    align = float(np.einsum("ij,ij->i", diff, diff).mean())
    gap = float(np.linalg.norm(ua.mean(axis=0) - ub.mean(axis=0)))
    return PairedStats(align, gap, int(a.shape[0]))


def pair_indices(
    ids_a: tuple[str, ...] | list[str], pairs_b: list[str | None]
) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (ia, ib) such that a[ia[k]] is paired with b[ib[k]], where ``pairs_b[j]``
    names the id in ``ids_a`` that row j of b is paired with (None: unpaired). Several b rows
    may share one a row (about 5 COCO captions per image)."""
    where = {i: k for k, i in enumerate(ids_a)}
    ia, ib = [], []
    for j, p in enumerate(pairs_b):
        k = where.get(p) if p is not None else None
        if k is not None:
            ia.append(k)
            ib.append(j)
    return np.asarray(ia, dtype=np.int64), np.asarray(ib, dtype=np.int64)


__all__ = ["PairedStats", "pair_indices", "paired_stats"]
