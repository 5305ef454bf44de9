"""One call from an embedding matrix to all diagnostics: :func:`diagnose` -> :class:`Diagnosis`."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.diagnostics.normality import (
    ADResult,
    DPResult,
    ad_result,
    column_tests,
    dp_result,
)
from infogauss_cli.diagnostics.norms import NormStats, stats_from_norms
from infogauss_cli.diagnostics.null import NullExpectation, null_expectation
from infogauss_cli.diagnostics.reference import LABELS, Reference, reference
from infogauss_cli.diagnostics.validate import (
    MIN_ROWS,
    VIEWS,
    InvalidEmbeddingsError,
    View,
    check_nonzero,
    row_norms,
    subsample,
    validate_matrix,
)


def _num(v: float) -> float | None:
    """Plain float, None for NaN/Inf (JSON has no NaN)."""
    v = float(v)
    return v if math.isfinite(v) else None


DEAD_RTOL = 1e-6  # a coordinate is dead when its std < DEAD_RTOL x the median column std


@dataclass(frozen=True, eq=False)
class Diagnosis:
    """All diagnostics of one (sub)sampled embedding matrix under one view.

    ``n``/``d``: the shape actually tested; ``n_rows_input``: rows before subsampling;
    ``norms``: on the raw rows (of the subsample) whatever the view; ``ad``/``dp``: on the view,
    summaries over the live coordinates; ``null``: what iid Gaussian coordinates give at this n
    and d; ``reference``: the reference of the view (iid Gaussian for raw, the uniform sphere for
    l2) at this n and the live d; ``constant_columns``: coordinates with no spread in the view;
    ``dead_columns``: coordinates with negligible spread (std < 1e-6 x the median column std;
    constant ones included), left out of the compliances, the means and the effect size;
    ``effect``: the per-coordinate QQ distance to N(0, 1) (``metrics.effect_size`` is its mean).
    """

    n: int
    d: int
    view: str
    seed: int
    ad: ADResult
    dp: DPResult
    norms: NormStats
    null: NullExpectation
    constant_columns: tuple[int, ...]
    n_rows_input: int
    row_indices: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64), repr=False)
    dead_columns: tuple[int, ...] = ()
    effect: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)

    @functools.cached_property
    def reference(self) -> Reference:
        """The reference of the view at this n and the live d (simulated on first use, then
        cached: see :mod:`.reference`)."""
        return reference(self.n, max(self.d_live, 1), self.view)

    @property
    def d_live(self) -> int:
        return self.d - len(self.dead_columns)

    @property
    def effect_size(self) -> float:
        if not self.dead_columns:
            return _nanmean(self.effect)
        live = np.ones(self.d, bool)
        live[list(self.dead_columns)] = False
        return _nanmean(self.effect[live])

    def metrics(self) -> dict[str, Any]:
        """The report's ``metrics``: plain Python numbers, None where undefined."""
        return {
            "norm_cv": _num(self.norms.cv),
            "norm_mean": _num(self.norms.mean),
            "ad_mean": _num(self.ad.mean),
            "ad_compliance": _num(self.ad.compliance),
            "dp_mean_p": _num(self.dp.mean_p),
            "dp_compliance": _num(self.dp.compliance),
            "effect_size": _num(self.effect_size),
            "n_constant_columns": len(self.constant_columns),
            "n_dead_columns": len(self.dead_columns),
        }

    def null_dict(self, alpha: float = 0.05) -> dict[str, Any]:
        """The report's ``null``: the same summaries under the reference of the row's view
        (``reference`` says which), over the live coordinates, with the calibrated rule's
        minimum compliances at false-alarm rate ``alpha`` (alpha/2 per test)."""
        # nothing alive: every coordinate counts (and fails), as in the compliances
        return reference_dict(self.reference, self.d_live or self.d, alpha)


def _nanmean(a: np.ndarray) -> float:
    ok = a[np.isfinite(a)]
    return float(ok.mean()) if ok.size else float("nan")


def reference_dict(ref: Reference, trials: int, alpha: float, prefix: str = "") -> dict[str, Any]:
    """``null`` keys of one reference over ``trials`` coordinates (or projections)."""
    ad_min = ref.threshold("ad", trials, alpha / 2)
    dp_min = ref.threshold("dp", trials, alpha / 2)
    out = {
        "ad_compliance": _num(ref.ad_rate),
        "dp_compliance": _num(ref.dp_rate),
        "ad_mean": _num(max(ref.ad_mean, 0.0)),
        "dp_mean_p": _num(min(max(ref.dp_mean_p, 0.0), 1.0)),
        "ad_compliance_band": [_num(b) for b in ref.band("ad", trials)],
        "dp_compliance_band": [_num(b) for b in ref.band("dp", trials)],
        "ad_compliance_min": _num(ad_min),
        "dp_compliance_min": _num(dp_min),
        "effect_size": _num(ref.effect),
        "effect_size_sd": _num(ref.effect_sd),
        "power_relevant": _num(ref.power(ad_min, dp_min, trials)) if trials else None,
        "power_relevant_paper": _num(ref.power(0.9, 0.9, trials)) if trials else None,
    }
    if prefix:
        return {prefix + k: v for k, v in out.items()}
    return {"reference": LABELS[ref.view], "alpha": alpha, "trials": trials, **out}


def diagnose(
    x: object,
    *,
    view: View = "l2",
    n: int | None = None,
    seed: int = 0,
    workers: int | None = None,
    budget: int | None = None,
    checked: bool = False,
) -> Diagnosis:
    """Validate ``x`` (n, d), subsample ``n`` rows (seeded, without replacement), take the norm
    statistics of the raw rows, then run Anderson-Darling and D'Agostino-Pearson on every
    coordinate of the ``view`` (``l2``: unit-norm rows; ``raw``: as given). The reference of
    the view (``Diagnosis.reference``) is simulated when first asked for, then cached.

    Memory: the l2 view is computed block by block from the row norms (no normalised copy);
    ``budget`` bounds the working set in bytes (default from the machine's RAM, see
    :mod:`.blocks`); ``x`` may be memory-mapped (``np.load(path, mmap_mode="r")``): it is read
    in passes, with a bounded resident set. ``checked=True``: ``x`` has already been through
    :func:`validate_matrix` (its one finite check is not repeated).

    Raises :class:`InvalidEmbeddingsError` / ``BadInputError`` for bad input or options.
    """
    if view not in VIEWS:
        raise BadInputError(f"unknown view {view!r}; expected one of {', '.join(VIEWS)}")
    if n is not None and n < MIN_ROWS:
        raise BadInputError(
            f"sample size n={n} is too small: the D'Agostino-Pearson test needs n >= {MIN_ROWS}"
        )
    a = x if checked else validate_matrix(x)
    rows = a.shape[0]
    sub, idx = subsample(a, n, seed)  # type: ignore[arg-type]
    norms = row_norms(sub)
    if view == "l2":
        check_nonzero(norms)
    divide_by = norms if view == "l2" else None
    res = column_tests(sub, workers=workers, divide_by=divide_by, budget=budget)
    nn, d = sub.shape
    idx.setflags(write=False)
    dead = dead_mask(res.std, res.constant)
    live = ~dead
    d_live = int(live.sum())
    if d_live == 0:  # nothing alive: every coordinate counts, and fails
        live = None
    return Diagnosis(
        n=nn,
        d=d,
        view=view,
        seed=seed,
        ad=ad_result(res.a2star, live),
        dp=dp_result(res.k2, res.pvalue, live),
        norms=stats_from_norms(norms),
        null=null_expectation(nn, d),
        constant_columns=tuple(int(i) for i in np.flatnonzero(res.constant)),
        n_rows_input=rows,
        row_indices=idx,
        dead_columns=tuple(int(i) for i in np.flatnonzero(dead)),
        effect=res.w1,
    )


def dead_mask(std: np.ndarray, constant: np.ndarray) -> np.ndarray:
    """Dead coordinates: constant, or std < 1e-6 x the median column std (a coordinate at
    1e-32 in a matrix at 0.2 is numerical noise, not a failing coordinate)."""
    med = float(np.median(std)) if std.size else 0.0
    return constant | (std < DEAD_RTOL * med)


__all__ = ["Diagnosis", "InvalidEmbeddingsError", "diagnose"]
