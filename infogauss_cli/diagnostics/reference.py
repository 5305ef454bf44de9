"""The reference of each view at n and d (``raw``: iid Gaussian; ``l2``: uniform on the sphere),
its beta-binomial count of passing coordinates, and the table it is read from where it answers
(``reference_table.tsv``, made by ``benchmarks/reftable_build.py``; see docs/diagnostics.md)."""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import special

from infogauss_cli.diagnostics.normality import read_tsv
from infogauss_cli.diagnostics.refsim import simulated, summarise

LABELS = {"raw": "null: iid Gaussian", "l2": "ideal: uniform sphere"}


@dataclass(frozen=True, eq=False)
class Reference:
    """One reference coordinate at n rows (and d): rates, means, SDs, effect, t10 rates and the
    sorted DP p-values or (from the table) their quantiles at ``dp_levels``."""

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
    dp_pvalues: np.ndarray = field(repr=False)
    dp_levels: np.ndarray | None = field(default=None, repr=False)

    def count_cdf(self, which: str, trials: int) -> np.ndarray:
        """P(at most k of ``trials`` (>= 1) coordinates pass), k = 0..trials (beta-binomial)."""
        p = min(max(getattr(self, f"{which}_rate"), 1e-9), 1 - 1e-9)
        se = getattr(self, f"{which}_rate_se")
        k = np.arange(trials + 1)
        nu = p * (1 - p) / max(se, 1e-12) ** 2 - 1
        if nu > 1e7:
            return special.bdtr(k, trials, p)
        a, b = p * nu, (1 - p) * nu  # the beta-binomial pmf in closed form (log-space), summed
        logpmf = (
            special.gammaln(trials + 1)
            - special.gammaln(k + 1)
            - special.gammaln(trials - k + 1)
            + special.betaln(k + a, trials - k + b)
            - special.betaln(a, b)
        )
        return np.minimum(np.cumsum(np.exp(logpmf)), 1.0)

    def threshold(self, which: str, trials: int, level: float) -> float:
        """Smallest compliance c such that P(compliance < c) <= level under the reference."""
        cdf = self.count_cdf(which, trials)
        # reject when count < k: P(count <= k - 1) <= level; the largest such k
        ok = np.flatnonzero(cdf <= level * (1 + 1e-9))
        return (int(ok[-1] + 1) if ok.size else 0) / trials

    def band(self, which: str, trials: int, level: float = 0.95) -> tuple[float, float]:
        """Central ``level`` range of the compliance over ``trials`` coordinates."""
        cdf = self.count_cdf(which, trials)
        lo, hi = np.searchsorted(cdf, np.array([1 - level, 1 + level]) / 2 * (1 - 1e-12))
        return (min(int(lo), trials) / trials, min(int(hi), trials) / trials)

    def power(self, ad_min: float, dp_min: float, trials: int) -> float:
        """Lower bound on the chance that iid t10 coordinates fail the minimums over ``trials``."""

        def fail(rate: float, cmin: float) -> float:
            k = math.ceil(cmin * trials - 1e-9)  # pass needs count >= k
            return float(special.bdtr(k - 1, trials, rate)) if k >= 1 else 0.0

        return max(fail(self.alt_ad_rate, ad_min), fail(self.alt_dp_rate, dp_min))

    def calibrate_p(self, pvalues: np.ndarray) -> np.ndarray:
        """P_ref(P <= p) for each DP p-value (U(0, 1) under the reference); NaN stays NaN. From
        the table's quantiles at ``dp_levels``: linear in log p between them, in p outside."""
        p, q, lv = np.asarray(pvalues, dtype=np.float64), self.dp_pvalues, self.dp_levels
        if lv is None:
            out = np.minimum((1.0 + np.searchsorted(q, p, side="right")) / (1.0 + q.size), 1.0)
            return np.where(np.isnan(p), np.nan, out)
        with np.errstate(divide="ignore", invalid="ignore"):
            mid = np.interp(np.log(np.maximum(p, 1e-300)), np.log(np.maximum(q, 1e-300)), lv)
            low = lv[0] * p / max(q[0], 1e-300)
            high = lv[-1] + (1 - lv[-1]) * (p - q[-1]) / max(1 - q[-1], 1e-12)
        out = np.clip(np.nan_to_num(np.where(p < q[0], low, np.where(p > q[-1], high, mid))), 0, 1)
        return np.where(np.isnan(p), np.nan, out)


def reference(n: int, d: int, view: str) -> Reference:
    """The reference of ``view`` at (n, d): from the table where it answers, else simulated."""
    hit = _reference(int(n), int(d) if view == "l2" else 0, view)
    return hit if hit.d == d else dataclasses.replace(hit, d=int(d))


@functools.lru_cache(maxsize=256)
def _reference(n: int, d: int, view: str) -> Reference:
    row = lookup(n, d, view)
    levels = None if row is None else LEVELS
    if row is None:
        sim = simulated(n, d, view)
        row = summarise(sim, n, view), np.sort(sim["p"][np.isfinite(sim["p"])])
    fields, q = row
    q.setflags(write=False)
    return Reference(view, n, d, dp_pvalues=q, dp_levels=levels, **fields)


TABLE_FILE = Path(__file__).with_name("reference_table.tsv")
FIELDS = ("ad_rate", "ad_rate_se", "dp_rate", "dp_rate_se", "ad_mean", "ad_sd", "dp_mean_p",
          "dp_sd", "effect", "effect_sd", "alt_ad_rate", "alt_dp_rate")  # fmt: skip
LEVELS = np.array(
    [0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075]
    + [round(0.1 + 0.05 * i, 2) for i in range(17)]
    + [0.925, 0.95, 0.97, 0.98, 0.99, 0.995, 0.998, 0.999]
)  # probability levels of the stored DP p-value quantiles
TABLE_SEED = 20260301  # the seed of the table's simulations (header of the file)
HEAD = ("view", "n", "d", "s", "columns")
N_MIN, N_MAX, D_MIN, D_MAX = 20, 10**7, 2, 8192
FIXED_D = 8  # up to this d, rows are read at the query's d (s does not collapse them)
_F = {f: i for i, f in enumerate(FIELDS)}
_RATES = [_F[f] for f in ("ad_rate", "dp_rate", "alt_ad_rate", "alt_dp_rate")]
_EFF, _ALT = [_F["effect"], _F["effect_sd"]], [_F["alt_ad_rate"], _F["alt_dp_rate"]]
_EPS = 1e-6  # rates are interpolated as logits, clipped to [_EPS, 1 - _EPS]
_TINY = 1e-300  # p-value quantiles are interpolated as log p (they span hundreds of decades)


def _logit(vals: np.ndarray) -> np.ndarray:
    """Rates to logits and p-value quantiles to logs, in place (the interpolated scales)."""
    r = np.clip(vals[:, _RATES], _EPS, 1 - _EPS)
    vals[:, _RATES] = np.log(r / (1 - r))
    vals[:, len(FIELDS) :] = np.log(np.clip(vals[:, len(FIELDS) :], _TINY, 1.0))
    return vals


def sphere_s(n: float, d: float) -> float:
    """s = excess kurtosis of one sphere coordinate, -6/(d+2), over the kurtosis SE sqrt(24/n)."""
    return (6.0 / (d + 2.0)) / math.sqrt(24.0 / n)


@functools.cache
def _table() -> dict[str, Any]:
    """Raw rows (log n, values) and l2 rows (per n: log s, values), read on first use."""
    a = np.array([[float(v) for v in row] for row in read_tsv(TABLE_FILE)[1:]])
    h = len(HEAD)
    raw = a[a[:, 0] == 0]
    raw = raw[np.argsort(raw[:, 1])]
    raw_vals = raw[:, h:].copy()
    raw_logn = np.log(raw[:, 1])
    geff = raw_vals[:, _F["effect"]].copy()
    raw_vals[:, _EFF] *= np.sqrt(raw[:, 1])[:, None]  # ~ 1/sqrt(n): interpolated as sqrt(n) x
    sph: list[tuple[float, np.ndarray, np.ndarray]] = []
    l2 = a[a[:, 0] == 1]
    for n in np.unique(l2[:, 1]):
        r = l2[l2[:, 1] == n]
        r = r[np.argsort(r[:, 3])]
        vals = r[:, h:].copy()
        g = float(np.interp(math.log(n), raw_logn, geff))
        vals[:, _EFF] /= g  # effect and its SD as ratios to the Gaussian effect
        sph.append((float(n), np.log(r[:, 3]), _logit(vals)))
    return {"raw_logn": raw_logn, "raw": _logit(raw_vals), "l2": sph}


def _lerp_rows(x: np.ndarray, vals: np.ndarray, at: float) -> np.ndarray:
    """Row of ``vals`` interpolated linearly at ``at`` in the sorted ``x`` (clamped)."""
    if at <= x[0]:
        return vals[0].copy()
    if at >= x[-1]:
        return vals[-1].copy()
    j = int(np.searchsorted(x, at, side="right"))
    w = (at - x[j - 1]) / (x[j] - x[j - 1])
    return (1.0 - w) * vals[j - 1] + w * vals[j]


def _raw_vals(n: float) -> np.ndarray:
    v = _lerp_rows(_table()["raw_logn"], _table()["raw"], math.log(n))
    v[_EFF] /= math.sqrt(n)
    return v


def gaussian_effect(n: int) -> tuple[float, float]:
    """Mean and SD of one iid-Gaussian column's QQ distance to N(0, 1) at n rows (table)."""
    v = _raw_vals(float(n))
    return float(v[_F["effect"]]), float(v[_F["effect_sd"]])


def _row_at(row: tuple, logs: float, s: float, extrapolate: bool) -> np.ndarray:
    _, x, vals = row
    v = _lerp_rows(x, vals, logs)
    if extrapolate and logs > x[-1]:
        r = s / math.exp(x[-1])
        v[_F["ad_mean"]] *= r * r
        v[_F["ad_sd"]] *= r
        v[_F["effect"]] *= r
    return v


def _at(row: tuple, logs: float, d: float) -> float:
    """Where to read a row (log s): at the query's s, or at its d for small d and past its end."""
    return logs if logs <= row[1][-1] and d > FIXED_D else math.log(sphere_s(row[0], d))


@functools.lru_cache(maxsize=256)
def sphere_bias(d: int) -> float:
    """Population QQ distance of one standardised sphere coordinate sqrt(d) u1 to N(0, 1)."""
    p = 0.5 + (np.arange(4000) + 0.5) / 8000  # the upper half; Q is symmetric
    q = np.sqrt(d * special.betaincinv(0.5, (d - 1) / 2.0, 2 * p - 1))
    return float(np.mean(np.abs(q - special.ndtri(p))))


def _sphere_vals(n: float, d: float) -> np.ndarray:
    rows = _table()["l2"]
    s = sphere_s(n, d)
    logs, logn = math.log(s), math.log(n)
    ns = np.log([r[0] for r in rows])
    top = rows[-1]
    g = _raw_vals(n)
    if n >= top[0]:
        v = _row_at(top, logs, s, extrapolate=True)
        # the effect: bias D(d) and sampling noise, the noise read at the last row's n and d
        at_d = _row_at(top, math.log(sphere_s(top[0], d)), s, False)
        g_top = _raw_vals(top[0])[_F["effect"]]
        bias = sphere_bias(round(d))
        noise2 = max((at_d[_F["effect"]] * g_top) ** 2 - bias * bias, 0.0)
        effect = math.sqrt(bias * bias + noise2 * (g[_F["effect"]] / g_top) ** 2)
        v[_F["effect"]] = effect / g[_F["effect"]]
        v[_F["effect_sd"]] = at_d[_F["effect_sd"]]
    else:
        j = max(1, int(np.searchsorted(ns, logn, side="right")))
        w = (logn - ns[j - 1]) / (ns[j] - ns[j - 1])
        a, b = (_row_at(r, _at(r, logs, d), s, False) for r in rows[j - 1 : j + 1])
        v = (1 - w) * a + w * b
    v[_EFF] *= g[_F["effect"]]
    v[_ALT] = g[_ALT]  # the relevant departure does not depend on d
    return v


def lookup(n: int, d: int, view: str) -> tuple[dict[str, float], np.ndarray] | None:
    """(fields, DP p-value quantiles at :data:`LEVELS`) at (n, d, view), or None off the table."""
    if not N_MIN <= n <= N_MAX:
        return None
    if view == "raw":
        v = _raw_vals(float(n))
    elif view == "l2" and D_MIN <= d <= D_MAX:
        v = _sphere_vals(float(n), float(d))
    else:
        return None
    v[_RATES] = 1.0 / (1.0 + np.exp(-v[_RATES]))
    q = np.clip(np.maximum.accumulate(np.exp(v[len(FIELDS) :])), 0.0, 1.0)
    return {f: float(v[i]) for i, f in enumerate(FIELDS)}, q
