"""Augmentations that make positive pairs: additive Gaussian noise for continuous inputs, bit
dropout with matching random switch-ons for binary inputs (sparsity kept on average)."""

from __future__ import annotations

import numpy as np


def add_noise(x: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """``x + sigma * N(0, I)`` (float32)."""
    return x + np.float32(sigma) * rng.standard_normal(x.shape, dtype=np.float32)


def flip_bits(x: np.ndarray, drop: float, density: float, rng: np.random.Generator) -> np.ndarray:
    """Each 1-bit is switched off with probability ``drop`` and each 0-bit switched on with
    probability ``drop * density / (1 - density)``, so a row keeps its expected number of ones
    (the density is preserved). A row left all zero keeps one of its original bits."""
    on = x > 0.5
    u = rng.random(x.shape, dtype=np.float32)
    add = drop * density / (1.0 - density)
    out = np.where(on, u >= drop, u < add)
    empty = np.flatnonzero(~out.any(axis=1))
    if empty.size:  # restore one original bit, chosen at random among the row's ones
        keys = rng.random((empty.size, x.shape[1])) + on[empty]
        out[empty, keys.argmax(axis=1)] = True
    return out.astype(np.float32)


def augment(
    x: np.ndarray, *, continuous: bool, noise: float, density: float, rng: np.random.Generator
) -> np.ndarray:
    """One augmented view of ``x``: :func:`add_noise` or :func:`flip_bits`."""
    if continuous:
        return add_noise(x, noise, rng)
    return flip_bits(x, noise, density, rng)
