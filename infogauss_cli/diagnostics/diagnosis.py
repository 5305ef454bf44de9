"""One call from an embedding matrix to its per-coordinate diagnostics: :func:`diagnose`."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.diagnostics import validate as va
from infogauss_cli.diagnostics.columns import column_tests
from infogauss_cli.diagnostics.normality import ADResult, DPResult, ad_result, dp_result, nanmean
from infogauss_cli.diagnostics.reference import LABELS, Reference, reference


def num(v: float | None) -> float | None:
    """Plain float, None for None, NaN or Inf (JSON has no NaN)."""
    return None if v is None or not math.isfinite(v) else float(v)


DEAD_RTOL = 1e-6  # a coordinate is dead when its std < DEAD_RTOL x the median column std


@dataclass(frozen=True, eq=False)
class Diagnosis:
    """The diagnostics of one (sub)sampled matrix under one view; ``dead_columns`` (std < 1e-6 x
    the median, constant ones included) are left out of the compliances, means and effect."""

    n: int
    d: int
    view: str
    ad: ADResult
    dp: DPResult
    norms: va.NormStats
    constant_columns: tuple[int, ...]
    row_indices: np.ndarray = field(repr=False)
    dead_columns: tuple[int, ...]
    effect: np.ndarray = field(repr=False)  # per coordinate: the QQ distance to N(0, 1)

    @functools.cached_property
    def reference(self) -> Reference:
        """The reference of the view at this n and the live d (computed on first use)."""
        return reference(self.n, max(self.d_live, 1), self.view)

    @property
    def d_live(self) -> int:
        return self.d - len(self.dead_columns)

    @property
    def effect_size(self) -> float:
        return nanmean(np.delete(self.effect, list(self.dead_columns)))

    def metrics(self) -> dict[str, Any]:
        """The report's ``metrics``: plain Python numbers, None where undefined."""
        return {
            "norm_cv": num(self.norms.cv),
            "norm_mean": num(self.norms.mean),
            "ad_mean": num(self.ad.mean),
            "ad_compliance": num(self.ad.compliance),
            "dp_mean_p": num(self.dp.mean_p),
            "dp_compliance": num(self.dp.compliance),
            "effect_size": num(self.effect_size),
            "n_constant_columns": len(self.constant_columns),
            "n_dead_columns": len(self.dead_columns),
        }

    def null_dict(self, alpha: float = 0.05) -> dict[str, Any]:
        """The report's ``null``: the view's reference over the live coordinates at ``alpha``."""
        return reference_dict(self.reference, self.d_live or self.d, alpha)


def reference_dict(ref: Reference, trials: int, alpha: float, prefix: str = "") -> dict[str, Any]:
    """``null`` keys of one reference over ``trials`` coordinates (or projections)."""
    ad_min, dp_min = (ref.threshold(w, trials, alpha / 2) for w in ("ad", "dp"))
    out = {
        "ad_compliance": num(ref.ad_rate),
        "dp_compliance": num(ref.dp_rate),
        "ad_mean": num(max(ref.ad_mean, 0.0)),
        "dp_mean_p": num(min(max(ref.dp_mean_p, 0.0), 1.0)),
        "ad_compliance_band": [num(b) for b in ref.band("ad", trials)],
        "dp_compliance_band": [num(b) for b in ref.band("dp", trials)],
        "ad_compliance_min": num(ad_min),
        "dp_compliance_min": num(dp_min),
        "effect_size": num(ref.effect),
        "effect_size_sd": num(ref.effect_sd),
        "power_relevant": num(ref.power(ad_min, dp_min, trials)) if trials else None,
        "power_relevant_paper": num(ref.power(0.9, 0.9, trials)) if trials else None,
    }
    if prefix:
        return {prefix + k: v for k, v in out.items()}
    return {"reference": LABELS[ref.view], "alpha": alpha, "trials": trials, **out}


def diagnose(
    x: object,
    *,
    view: va.View = "l2",
    n: int | None = None,
    seed: int = 0,
    workers: int | None = None,
    budget: int | None = None,
) -> Diagnosis:
    """Validate ``x`` (n, d), subsample ``n`` rows (seeded), take the raw rows' norm statistics
    and run Anderson-Darling and D'Agostino-Pearson on every coordinate of the ``view`` (``l2``:
    unit-norm rows; ``raw``: as given). Bad input or options: ``BadInputError``."""
    return diagnose_valid(va.validate_matrix(x), view, n, seed, workers, budget)


def diagnose_valid(
    a: np.ndarray,
    view: va.View = "l2",
    n: int | None = None,
    seed: int = 0,
    workers: int | None = None,
    budget: int | None = None,
) -> Diagnosis:
    """:func:`diagnose` of a matrix already through :func:`~.validate.validate_matrix`."""
    if view not in va.VIEWS:
        raise BadInputError(f"unknown view {view!r}; expected one of {', '.join(va.VIEWS)}")
    if n is not None and n < va.MIN_ROWS:
        raise BadInputError(
            f"sample size n={n} is too small: the D'Agostino-Pearson test needs n >= {va.MIN_ROWS}"
        )
    sub, idx = va.subsample(a, n, seed)
    norms = va.row_norms(sub)
    if view == "l2":
        va.check_nonzero(norms)
    divide_by = norms if view == "l2" else None
    res = column_tests(sub, workers=workers, divide_by=divide_by, budget=budget)
    nn, d = sub.shape
    idx.setflags(write=False)
    dead = dead_mask(res.std, res.constant)
    live = None if dead.all() else ~dead  # nothing alive: every coordinate counts, and fails
    ad, dp = ad_result(res.a2star, live), dp_result(res.k2, res.pvalue, live)
    constant = tuple(int(i) for i in np.flatnonzero(res.constant))
    dead_columns = tuple(int(i) for i in np.flatnonzero(dead))
    norm_stats = va.stats_from_norms(norms)
    return Diagnosis(nn, d, view, ad, dp, norm_stats, constant, idx, dead_columns, res.w1)


def dead_mask(std: np.ndarray, constant: np.ndarray) -> np.ndarray:
    """Dead coordinates: constant, or std < 1e-6 x the median column std."""
    return constant | (std < DEAD_RTOL * float(np.median(std)))
