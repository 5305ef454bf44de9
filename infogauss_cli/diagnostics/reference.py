"""The reference of each view: what the ideal gives at the same n and d, and the calibrated rule.

- ``raw`` view: iid Gaussian coordinates (the null). Pass rates, mean A*^2 and mean p come from
  the high-precision table of :mod:`.null`.
- ``l2`` view: rows uniform on the sphere S^(d-1) (L2-normalised iid Gaussian rows, InfoNCE's
  ideal end point). One coordinate is u1 = g1 / sqrt(g1^2 + X) with X ~ chi2(d - 1), so a column
  of n rows is simulated from univariate draws at any n and d. The pass rates use g1 as a control
  variate: rate(sphere) = rate(Gaussian, table) + mean(pass(u) - pass(g)) on the same draws,
  which is far more precise than the plain Monte Carlo mean when d is large.

Both views also simulate ``columns`` columns through the same code as the diagnostics, for the
effect size (mean QQ distance to N(0, 1), :func:`~.normality.column_tests`) and the reference
distribution of the D'Agostino-Pearson p-values (which are not U(0, 1) at small n).

The calibrated rule compares each compliance with the lower ``alpha / 2`` quantile of the number
of passing coordinates under the reference (Bonferroni over the two tests: joint false-alarm
rate <= alpha). Coordinates are treated as independent (exact for the raw view; for the sphere
they correlate only through the row norm, Corr(u1^2, u2^2) = -1/(d - 1)); the Monte Carlo
uncertainty of the rate is folded in by a beta-binomial count (conservative).

Simulations are memoised in memory and, through :func:`set_store`, on disk (``refstore``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from .normality import AD_CRITICAL_5PCT, DP_ALPHA, column_tests
from .null import table_row

REFERENCE_SEED = 20261129
REFERENCE_FORMAT = 1  # bump when the simulation changes: old cache entries are then ignored
LABELS = {"raw": "null: iid Gaussian", "l2": "ideal: uniform sphere"}
_BUDGET = 24_000_000  # simulated values per reference (columns x n), about 2-4 s on 2 cores
_MIN_COLUMNS, _MAX_COLUMNS = 600, 20_000
_BATCH = 1 << 23  # values per simulated batch (32 MB of float32)
ALT_DF = 10  # the relevant departure: Student t with 10 degrees of freedom (effect size 0.044)
ALT_SHARE = 4  # it is simulated on 1/4 of the columns
RELEVANT_EFFECT = 0.04  # effect sizes from here on are "far from Gaussian" (docs/diagnostics.md)


class ReferenceStore(Protocol):
    """Where simulated references are kept between runs (see ``infogauss_cli.refstore``)."""

    def get(self, key: str) -> dict[str, np.ndarray] | None: ...

    def put(self, key: str, arrays: dict[str, np.ndarray]) -> None: ...


_STORE: ReferenceStore | None = None
_MEMO: dict[str, dict[str, np.ndarray]] = {}
_REFS: dict[tuple, Reference] = {}


def set_store(store: ReferenceStore | None) -> ReferenceStore | None:
    """Use ``store`` for simulated references (None: memory only); returns the previous one."""
    global _STORE
    old, _STORE = _STORE, store
    return old


def get_store() -> ReferenceStore | None:
    """The store in use (None: memory only)."""
    return _STORE


def default_columns(n: int) -> int:
    """Simulated columns for a reference at n rows: a budget of values, within bounds."""
    return int(np.clip(_BUDGET // max(n, 1), _MIN_COLUMNS, _MAX_COLUMNS))


def _table(n: int) -> dict[str, float]:
    """The null table (iid Gaussian) interpolated in log n, with its Monte Carlo SEs."""
    row = table_row(n)
    return {
        "ad_mean": row[2],
        "ad_sd": row[4],
        "ad_rate": row[5],
        "ad_rate_se": row[6],
        "dp_rate": row[7],
        "dp_rate_se": row[8],
        "dp_mean_p": row[9],
        "dp_sd": row[11],
    }


def _sphere_dim(d: int) -> int:
    return max(int(d), 1)


def simulate(n: int, d: int, view: str, columns: int, seed: int = REFERENCE_SEED) -> dict:
    """Simulate ``columns`` reference columns of n rows (float32, as embeddings usually are)
    and run the diagnostics' own tests on them. Returns per-column arrays: ``a2``, ``p``, ``w1``
    of the reference columns and, for ``l2``, ``a2_g``, ``p_g`` of the Gaussian controls."""
    if view not in LABELS:
        raise ValueError(f"unknown view {view!r}")
    rng = np.random.default_rng([seed, n, d if view == "l2" else 0, 1 if view == "l2" else 0])
    per = max(1, _BATCH // n)
    out: dict[str, list[np.ndarray]] = {
        k: [] for k in ("a2", "p", "w1", "a2_g", "p_g", "a2_alt", "p_alt")
    }
    done = 0
    while done < columns:
        m = min(per, columns - done)
        if done < columns // ALT_SHARE:  # the relevant departure, for the power statement
            alt = column_tests(rng.standard_t(ALT_DF, (n, min(m, columns // ALT_SHARE - done))))
            out["a2_alt"].append(alt.a2star)
            out["p_alt"].append(alt.pvalue)
        g = rng.standard_normal((n, m), dtype=np.float32)
        if view == "l2":
            k = _sphere_dim(d) - 1
            x = 2.0 * rng.standard_gamma(k / 2.0, (n, m), dtype=np.float32) if k else 0.0
            u = g / np.sqrt(g * g + x)
            res_g = column_tests(g, ad=True, dp=True)
            out["a2_g"].append(res_g.a2star)
            out["p_g"].append(res_g.pvalue)
            del x
            g = u
        res = column_tests(g, ad=True, dp=True)
        out["a2"].append(res.a2star)
        out["p"].append(res.pvalue)
        out["w1"].append(res.w1)
        done += m
    return {k: np.concatenate(v) for k, v in out.items() if v}


def _key(n: int, d: int, view: str, seed: int, columns: int) -> str:
    dd = d if view == "l2" else 0  # the raw reference does not depend on d
    return f"v{REFERENCE_FORMAT}-{view}-n{n}-d{dd}-s{seed}-m{columns}"


def simulated(n: int, d: int, view: str, seed: int = REFERENCE_SEED, columns: int | None = None):
    """:func:`simulate`, memoised in memory and in the store set by :func:`set_store`."""
    columns = columns or default_columns(n)
    key = _key(n, d, view, seed, columns)
    hit = _MEMO.get(key)
    if hit is None and _STORE is not None:
        hit = _STORE.get(key)
        if hit is not None and not _valid(hit, view, columns):
            hit = None
    if hit is None:
        hit = simulate(n, d, view, columns, seed)
        if _STORE is not None:
            _STORE.put(key, hit)
    if len(_MEMO) > 64:
        _MEMO.pop(next(iter(_MEMO)))
    _MEMO[key] = hit
    return hit


def _valid(arrays: dict[str, np.ndarray], view: str, columns: int) -> bool:
    need = ("a2", "p", "w1") + (("a2_g", "p_g") if view == "l2" else ())
    ok = all(k in arrays and np.shape(arrays[k]) == (columns,) for k in need)
    return ok and all(
        np.shape(arrays.get(k)) == (columns // ALT_SHARE,) for k in ("a2_alt", "p_alt")
    )


@dataclass(frozen=True, eq=False)
class Reference:
    """What the reference of a view gives for one coordinate at n rows (and d, for the sphere).

    ``ad_rate``/``dp_rate``: probability that a reference coordinate passes (A*^2 < 0.752,
    p > 0.05), with Monte Carlo SEs; ``ad_mean``/``dp_mean_p`` and their per-coordinate SDs;
    ``effect``/``effect_sd``: the QQ distance (effect size) of one reference coordinate, mean
    and SD; ``dp_pvalues``: sorted simulated DP p-values (the reference distribution)."""

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
    _cdfs: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def label(self) -> str:
        return LABELS[self.view]

    def count_cdf(self, which: str, trials: int) -> np.ndarray:
        """P(at most k of ``trials`` coordinates pass), k = 0..trials (beta-binomial: the
        binomial with the Monte Carlo uncertainty of the rate folded in)."""
        key = (which, int(trials))
        cached = self._cdfs.get(key)
        if cached is not None:
            return cached
        from scipy import special

        p, se = (
            (self.ad_rate, self.ad_rate_se) if which == "ad" else (self.dp_rate, self.dp_rate_se)
        )
        p = min(max(p, 1e-9), 1 - 1e-9)
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
        """Lower bound on the chance that a relevant departure (iid Student t10 coordinates)
        fails ``compliance >= ad_min and >= dp_min`` over ``trials`` coordinates: the larger
        of the two single-test powers (binomial)."""
        from scipy.special import bdtr

        def fail(rate: float, cmin: float) -> float:
            k = math.ceil(cmin * trials - 1e-9)  # pass needs count >= k
            return float(bdtr(k - 1, trials, rate)) if k >= 1 else 0.0

        return max(fail(self.alt_ad_rate, ad_min), fail(self.alt_dp_rate, dp_min))

    def calibrate_p(self, pvalues: np.ndarray) -> np.ndarray:
        """P_ref(P <= p) for each DP p-value: U(0, 1) under the reference (Monte Carlo
        p-values, (1 + #{ref <= p}) / (1 + m)); NaN stays NaN."""
        p = np.asarray(pvalues, dtype=np.float64)
        out = (1.0 + np.searchsorted(self.dp_pvalues, p, side="right")) / (
            1.0 + self.dp_pvalues.size
        )
        return np.where(np.isnan(p), np.nan, np.minimum(out, 1.0))


def _mean_se(x: np.ndarray) -> tuple[float, float]:
    x = x[np.isfinite(x)] if x.dtype.kind == "f" else x
    return float(x.mean()), float(x.std(ddof=1) / math.sqrt(x.size))


def reference(
    n: int, d: int, view: str, *, seed: int = REFERENCE_SEED, columns: int | None = None
) -> Reference:
    """The reference of ``view`` for n rows and d coordinates (n >= 20; d >= 1)."""
    if n < 1 or d < 1:
        raise ValueError(f"need n >= 1 and d >= 1, got n={n}, d={d}")
    key = (int(n), int(d) if view == "l2" else 0, view, seed, columns or default_columns(n))
    hit = _REFS.get(key)
    if hit is None:
        hit = _reference(n, d, view, seed, key[-1])
        if len(_REFS) > 256:
            _REFS.pop(next(iter(_REFS)))
        _REFS[key] = hit
    return hit if hit.d == d else dataclasses.replace(hit, d=int(d), _cdfs={})


def _reference(n: int, d: int, view: str, seed: int, columns: int) -> Reference:
    sim = simulated(n, d, view, seed, columns)
    t = _table(n)
    m = int(sim["a2"].size)
    ad_pass = sim["a2"] < AD_CRITICAL_5PCT
    dp_pass = sim["p"] > DP_ALPHA
    w1 = sim["w1"]
    fields: dict[str, Any] = {
        "ad_sd": float(np.std(sim["a2"], ddof=1)),
        "dp_sd": float(np.std(sim["p"], ddof=1)),
    }
    if view == "raw":
        fields |= {k: t[k] for k in ("ad_rate", "ad_rate_se", "dp_rate", "dp_rate_se")}
        fields |= {"ad_mean": t["ad_mean"], "dp_mean_p": t["dp_mean_p"], "ad_sd": t["ad_sd"]}
        fields["dp_sd"] = t["dp_sd"]
    else:  # control variate: the Gaussian columns' rates are known precisely from the table
        for which, own, ctl in (
            ("ad", ad_pass, sim["a2_g"] < AD_CRITICAL_5PCT),
            ("dp", dp_pass, sim["p_g"] > DP_ALPHA),
        ):
            diff, se = _mean_se(own.astype(np.float64) - ctl)
            rate = min(max(t[f"{which}_rate"] + diff, 0.0), 1.0)
            fields[f"{which}_rate"] = rate
            fields[f"{which}_rate_se"] = math.hypot(se, t[f"{which}_rate_se"])
        fields["ad_mean"] = t["ad_mean"] + _mean_se(sim["a2"] - sim["a2_g"])[0]
        fields["dp_mean_p"] = t["dp_mean_p"] + _mean_se(sim["p"] - sim["p_g"])[0]
    dp_sorted = np.sort(sim["p"][np.isfinite(sim["p"])])
    dp_sorted.setflags(write=False)
    return Reference(
        view=view,
        n=int(n),
        d=int(d),
        effect=float(np.mean(w1)),
        alt_ad_rate=float(np.mean(sim["a2_alt"] < AD_CRITICAL_5PCT)),
        alt_dp_rate=float(np.mean(sim["p_alt"] > DP_ALPHA)),
        effect_sd=float(np.std(w1, ddof=1)),
        columns=m,
        seed=seed,
        dp_pvalues=dp_sorted,
        **fields,
    )


def warm(shapes: list[tuple[int, int, str]], progress: Callable[[str], None] | None = None) -> None:
    """Simulate (or load) the references of several (n, d, view) shapes ahead of time."""
    for n, d, view in shapes:
        if progress:
            progress(f"reference {view} n={n} d={d}")
        simulated(n, d, view)


__all__ = [
    "LABELS",
    "REFERENCE_SEED",
    "RELEVANT_EFFECT",
    "Reference",
    "ReferenceStore",
    "default_columns",
    "reference",
    "set_store",
    "simulate",
    "simulated",
]
