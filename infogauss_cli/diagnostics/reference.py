"""The reference of each view at n and d (``raw``: iid Gaussian; ``l2``: uniform on the sphere),
and the calibrated rule: each compliance against the lower ``alpha / 2`` quantile of the
beta-binomial count of passing coordinates."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np
from scipy import special

from infogauss_cli.diagnostics.refsim import REFERENCE_SEED, default_columns, simulated, summarise
from infogauss_cli.diagnostics.reftable import LEVELS, TABLE_SEED, lookup

LABELS = {"raw": "null: iid Gaussian", "l2": "ideal: uniform sphere"}
_REFS: dict[tuple, Reference] = {}


@dataclass(frozen=True, eq=False)
class Reference:
    """One reference coordinate at n rows (and d, for the sphere): pass rates (with Monte Carlo
    SEs), means and SDs, the effect size, the t10 pass rates, and ``dp_pvalues``: sorted
    simulated DP p-values or (from the table) their quantiles at ``dp_levels``."""

    view: str
    n: int
    d: int
    ad_rate: float
    ad_rate_se: float
    dp_rate: float
    dp_rate_se: float
    ad_mean: float
    ad_sd: float
    dp_mean_p: float
    dp_sd: float
    effect: float
    effect_sd: float
    alt_ad_rate: float
    alt_dp_rate: float
    columns: int
    seed: int
    dp_pvalues: np.ndarray = field(repr=False)
    dp_levels: np.ndarray | None = field(default=None, repr=False)
    _cdfs: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def label(self) -> str:
        return LABELS[self.view]

    def count_cdf(self, which: str, trials: int) -> np.ndarray:
        """P(at most k of ``trials`` coordinates pass), k = 0..trials (beta-binomial)."""
        key = (which, int(trials))
        cached = self._cdfs.get(key)
        if cached is not None:
            return cached
        p = min(max(getattr(self, f"{which}_rate"), 1e-9), 1 - 1e-9)
        se = getattr(self, f"{which}_rate_se")
        k = np.arange(trials + 1)
        nu = p * (1 - p) / max(se, 1e-12) ** 2 - 1
        if nu > 1e7:
            cdf = special.bdtr(k, trials, p)
        else:  # beta-binomial pmf in closed form (log-space), summed
            a, b = p * nu, (1 - p) * nu
            logpmf = (
                special.gammaln(trials + 1)
                - special.gammaln(k + 1)
                - special.gammaln(trials - k + 1)
                + special.betaln(k + a, trials - k + b)
                - special.betaln(a, b)
            )
            cdf = np.minimum(np.cumsum(np.exp(logpmf)), 1.0)
        cdf.setflags(write=False)
        self._cdfs[key] = cdf
        return cdf

    def threshold(self, which: str, trials: int, level: float) -> float:
        """Smallest compliance c such that P(compliance < c) <= level under the reference."""
        if trials < 1:
            return float("nan")
        cdf = self.count_cdf(which, trials)
        # reject when count < k: P(count <= k - 1) <= level; the largest such k
        ok = np.flatnonzero(cdf <= level * (1 + 1e-9))
        k = int(ok[-1] + 1) if ok.size else 0
        return k / trials

    def band(self, which: str, trials: int, level: float = 0.95) -> tuple[float, float]:
        """Central ``level`` range of the compliance over ``trials`` coordinates."""
        if trials < 1:
            return (float("nan"), float("nan"))
        cdf = self.count_cdf(which, trials)
        lo = int(np.searchsorted(cdf, (1 - level) / 2 * (1 - 1e-12)))
        hi = int(np.searchsorted(cdf, (1 + level) / 2 * (1 - 1e-12)))
        return (min(lo, trials) / trials, min(hi, trials) / trials)

    def power(self, ad_min: float, dp_min: float, trials: int) -> float:
        """Lower bound on the chance that iid Student t10 coordinates fail ``compliance >=
        ad_min and >= dp_min`` over ``trials`` coordinates (the larger single-test power)."""

        def fail(rate: float, cmin: float) -> float:
            k = math.ceil(cmin * trials - 1e-9)  # pass needs count >= k
            return float(special.bdtr(k - 1, trials, rate)) if k >= 1 else 0.0

        return max(fail(self.alt_ad_rate, ad_min), fail(self.alt_dp_rate, dp_min))

    def calibrate_p(self, pvalues: np.ndarray) -> np.ndarray:
        """P_ref(P <= p) for each DP p-value (U(0, 1) under the reference); NaN stays NaN."""
        p, ref = np.asarray(pvalues, dtype=np.float64), self.dp_pvalues
        if self.dp_levels is not None:
            out = _from_quantiles(p, ref, self.dp_levels)
        else:
            out = np.minimum((1.0 + np.searchsorted(ref, p, side="right")) / (1.0 + ref.size), 1.0)
        return np.where(np.isnan(p), np.nan, out)


def _from_quantiles(p: np.ndarray, q: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """P(P <= p) from quantiles ``q`` at ``levels``: linear in log p between them, linear in p
    below the first (through 0) and above the last (through (1, 1))."""
    lq = np.log(np.maximum(q, 1e-300))
    with np.errstate(divide="ignore", invalid="ignore"):
        mid = np.interp(np.log(np.maximum(p, 1e-300)), lq, levels)
        low = levels[0] * p / max(q[0], 1e-300)
        high = levels[-1] + (1 - levels[-1]) * (p - q[-1]) / max(1 - q[-1], 1e-12)
    out = np.where(p < q[0], low, np.where(p > q[-1], high, mid))
    return np.clip(np.nan_to_num(out), 0.0, 1.0)


def reference(
    n: int, d: int, view: str, *, seed: int = REFERENCE_SEED, columns: int | None = None
) -> Reference:
    """The reference of ``view`` for n rows and d coordinates (n, d >= 1): from the table where
    it answers, else simulated (and cached); an explicit ``seed`` or ``columns`` simulates."""
    if n < 1 or d < 1:
        raise ValueError(f"need n >= 1 and d >= 1, got n={n}, d={d}")
    if view not in LABELS:
        raise ValueError(f"unknown view {view!r}")
    key = (int(n), int(d) if view == "l2" else 0, view, seed, columns or 0)
    hit = _REFS.get(key)
    if hit is None:
        hit = _make(int(n), int(d), view, seed, columns)
        if len(_REFS) > 256:
            _REFS.pop(next(iter(_REFS)))
        _REFS[key] = hit
    return hit if hit.d == d else dataclasses.replace(hit, d=int(d), _cdfs={})


def _make(n: int, d: int, view: str, seed: int, columns: int | None) -> Reference:
    """From the table where it answers (and no seed or columns are asked for), else simulated."""
    row = lookup(n, d, view) if seed == REFERENCE_SEED and columns is None else None
    if row is not None:
        (fields, q), levels, cols, seed = row, LEVELS, 0, TABLE_SEED
    else:
        sim = simulated(n, d, view, seed, columns or default_columns(n))
        fields, q, levels = summarise(sim, n, view), np.sort(sim["p"][np.isfinite(sim["p"])]), None
        cols = int(sim["a2"].size)
    q.setflags(write=False)
    return Reference(view, n, d, columns=cols, seed=seed, dp_pvalues=q, dp_levels=levels, **fields)
