"""One call from an embedding matrix to all diagnostics: :func:`diagnose` -> :class:`Diagnosis`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import BadInputError
from .normality import ADResult, DPResult, ad_result, column_tests, dp_result
from .norms import NormStats, stats_from_norms
from .null import NullExpectation, null_expectation
from .validate import (
    MIN_ROWS,
    VIEWS,
    InvalidEmbeddingsError,
    View,
    l2_normalise,
    row_norms,
    subsample,
    validate_matrix,
)


def _num(v: float) -> float | None:
    """Plain float, None for NaN/Inf (JSON has no NaN)."""
    v = float(v)
    return v if math.isfinite(v) else None


@dataclass(frozen=True, eq=False)
class Diagnosis:
    """All diagnostics of one (sub)sampled embedding matrix under one view.

    ``n``/``d``: the shape actually tested; ``n_rows_input``: rows before subsampling;
    ``norms``: on the raw rows (of the subsample) whatever the view; ``ad``/``dp``: on the view;
    ``null``: what iid Gaussian coordinates give at this n and d; ``constant_columns``: indices
    of coordinates with no spread in the view (they fail both tests and are left out of means).
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

    def metrics(self) -> dict[str, Any]:
        """The report's ``metrics``: plain Python numbers, None where undefined."""
        return {
            "norm_cv": _num(self.norms.cv),
            "norm_mean": _num(self.norms.mean),
            "ad_mean": _num(self.ad.mean),
            "ad_compliance": _num(self.ad.compliance),
            "dp_mean_p": _num(self.dp.mean_p),
            "dp_compliance": _num(self.dp.compliance),
            "n_constant_columns": len(self.constant_columns),
        }

    def null_dict(self) -> dict[str, Any]:
        """The report's ``null``: the same summaries for iid Gaussian coordinates."""
        return {
            "ad_compliance": _num(self.null.ad_compliance),
            "dp_compliance": _num(self.null.dp_compliance),
            "ad_mean": _num(self.null.ad_mean),
            "dp_mean_p": _num(self.null.dp_mean_p),
            "ad_compliance_band": [_num(b) for b in self.null.ad_compliance_band],
            "dp_compliance_band": [_num(b) for b in self.null.dp_compliance_band],
        }


def diagnose(
    x: object,
    *,
    view: View = "l2",
    n: int | None = None,
    seed: int = 0,
    workers: int | None = None,
) -> Diagnosis:
    """Validate ``x`` (n, d), subsample ``n`` rows (seeded, without replacement), take the norm
    statistics of the raw rows, then run Anderson-Darling and D'Agostino-Pearson on every
    coordinate of the ``view`` (``l2``: unit-norm rows; ``raw``: as given).

    Raises :class:`InvalidEmbeddingsError` / ``BadInputError`` for bad input or options.
    """
    if view not in VIEWS:
        raise BadInputError(f"unknown view {view!r}; expected one of {', '.join(VIEWS)}")
    if n is not None and n < MIN_ROWS:
        raise BadInputError(
            f"sample size n={n} is too small: the D'Agostino-Pearson test needs n >= {MIN_ROWS}"
        )
    a = validate_matrix(x)
    rows = a.shape[0]
    sub, idx = subsample(a, n, seed)
    norms = row_norms(sub)
    tested = l2_normalise(sub, norms) if view == "l2" else sub
    res = column_tests(tested, workers=workers)
    nn, d = tested.shape
    idx.setflags(write=False)
    return Diagnosis(
        n=nn,
        d=d,
        view=view,
        seed=seed,
        ad=ad_result(res.a2star),
        dp=dp_result(res.k2, res.pvalue),
        norms=stats_from_norms(norms),
        null=null_expectation(nn, d),
        constant_columns=tuple(int(i) for i in np.flatnonzero(res.constant)),
        n_rows_input=rows,
        row_indices=idx,
    )


__all__ = ["Diagnosis", "InvalidEmbeddingsError", "diagnose"]
