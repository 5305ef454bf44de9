"""D'Agostino's normalising transforms: the biased sample skewness and kurtosis of a column ->
K^2 = Z_skew^2 + Z_kurt^2, as scipy.stats.skewtest/kurtosistest (the DP test of
:mod:`.normality`, computed in the pass of :mod:`.columns`). Pure numpy, vectorised."""

from __future__ import annotations

import numpy as np


def k2_statistic(g1: np.ndarray, b2: np.ndarray, n: int) -> np.ndarray:
    """K^2 from biased skewness g1 and kurtosis b2, as scipy.stats.skewtest/kurtosistest.

    One difference: scipy's skewtest replaces y == 0 by 1, so a sample skewness of exactly 0
    (exactly symmetric discrete data) gives Z_skew ~ delta/alpha instead of 0; we keep Z = 0,
    the continuous value (any y != 0, however small, agrees with scipy)."""
    n = float(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        # skewtest
        y = g1 * np.sqrt(((n + 1) * (n + 3)) / (6.0 * (n - 2)))
        beta2 = (
            3.0
            * (n**2 + 27 * n - 70)
            * (n + 1)
            * (n + 3)
            / ((n - 2.0) * (n + 5) * (n + 7) * (n + 9))
        )
        w2 = -1 + np.sqrt(2 * (beta2 - 1))
        delta = 1 / np.sqrt(0.5 * np.log(w2))
        alpha = np.sqrt(2.0 / (w2 - 1))
        zs = delta * np.log(y / alpha + np.sqrt((y / alpha) ** 2 + 1))
        # kurtosistest
        e = 3.0 * (n - 1) / (n + 1)
        varb2 = 24.0 * n * (n - 2) * (n - 3) / ((n + 1) * (n + 1.0) * (n + 3) * (n + 5))
        xk = (b2 - e) / varb2**0.5
        sqrtbeta1 = (
            6.0
            * (n * n - 5 * n + 2)
            / ((n + 7) * (n + 9))
            * ((6.0 * (n + 3) * (n + 5)) / (n * (n - 2) * (n - 3))) ** 0.5
        )
        a = 6.0 + 8.0 / sqrtbeta1 * (2.0 / sqrtbeta1 + (1 + 4.0 / (sqrtbeta1**2)) ** 0.5)
        term1 = 1 - 2 / (9.0 * a)
        denom = 1 + xk * (2 / (a - 4.0)) ** 0.5
        term2 = np.sign(denom) * np.where(
            denom == 0.0, np.nan, ((1 - 2.0 / a) / np.abs(denom)) ** (1 / 3)
        )
        zk = (term1 - term2) / (2 / (9.0 * a)) ** 0.5
        return zs * zs + zk * zk


__all__ = ["k2_statistic"]
