"""The fitted Gaussian of a view: mean, covariance (sample or Ledoit-Wolf), its eigen-decomposition,
whitening, squared Mahalanobis distances, log-likelihoods and their tail p-values.

Laws (affine invariant, exact for Gaussian rows; r = the covariance's rank, usually d): with the
sample covariance (divisor n-1) and the sample mean, in-sample ``n D²/(n-1)² ~ Beta(r/2,
(n-r-1)/2)``; a new independent point ``D² ~ (n+1)/n · r(n-1)/(n-r) · F(r, n-r)``. Ledoit-Wolf
shrinkage has no closed law: in-sample distances are drawn from their law given the sample's
spectrum (exact: the centred rows' left singular vectors are Haar whatever the covariance), new
points from a parametric bootstrap under N(0, the fitted covariance) refitted the same way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.diagnostics.fit_file import load_fit, save_fit

MIN_CLASS_ROWS = 10
RANK_RTOL = 1e-10  # eigenvalues below this share of the largest carry no variance
SAMPLE_RATIO = 2.0  # "auto" keeps the sample covariance from n >= 2·rank rows
NULL_DRAWS = 100_000  # Monte Carlo draws of a shrinkage null (in-sample)
BOOT_REPS, BOOT_NEW = 32, 2_000  # bootstrap refits x new points each (new samples)
QQ_POINTS = 2_000
SHRINKAGES = ("auto", "sample", "ledoit-wolf")


@dataclass(frozen=True, eq=False)
class GaussianFit:
    """A fitted Gaussian; per-class fits in ``classes`` (empty without labels)."""

    mean: np.ndarray
    covariance: np.ndarray
    eigenvalues: np.ndarray  # descending
    eigenvectors: np.ndarray  # columns
    n: int
    shrinkage: str
    intensity: float
    reason: str
    view: str = "raw"
    classes: Mapping[str, GaussianFit] = field(default_factory=dict)
    provenance: Mapping[str, object] = field(default_factory=dict)
    _null: dict = field(default_factory=dict, repr=False)  # scatter eigenvalues, null draws

    @property
    def d(self) -> int:
        return int(self.mean.shape[0])

    @property
    def rank(self) -> int:
        """Eigenvalues above ``RANK_RTOL`` of the largest: the support's dimension."""
        top = float(self.eigenvalues[0]) if self.d else 0.0
        return int(np.count_nonzero(self.eigenvalues > top * RANK_RTOL)) if top > 0 else 0

    def prepare(self, x: object) -> np.ndarray:
        """Rows as a float64 copy (L2-normalised for the "l2" view); checks their width."""
        a = _matrix(x)
        if a.shape[1] != self.d:
            raise BadInputError(f"the rows have d={a.shape[1]} but the fit has d={self.d}")
        return _l2(a) if self.view == "l2" else a

    def _scaled(self, x: object) -> np.ndarray:
        """Coordinates on the principal axes of the support, each divided by its sd."""
        r = self.rank
        z = (self.prepare(x) - self.mean) @ self.eigenvectors[:, :r]
        return z / np.sqrt(self.eigenvalues[:r])

    def mahalanobis(self, x: object) -> np.ndarray:
        """Squared Mahalanobis distances of rows (pseudo-inverse off a rank-deficient support)."""
        return np.sum(self._scaled(x) ** 2, axis=1)

    def logpdf(self, x: object) -> np.ndarray:
        """Log-densities (on the support, with the pseudo-determinant when rank < d)."""
        r = self.rank
        logdet = float(np.sum(np.log(self.eigenvalues[:r])))
        return -0.5 * (self.mahalanobis(x) + logdet + r * math.log(2 * math.pi))

    def whiten(self, x: object, kind: str = "zca") -> np.ndarray:
        """ZCA (``V Λ^-1/2 Vᵀ``, d columns) or PCA (``Λ^-1/2 Vᵀ``, rank columns) whitened rows."""
        if kind not in ("zca", "pca"):
            raise BadInputError(f"whitening is 'zca' or 'pca', not {kind!r}")
        z = self._scaled(x)
        return z @ self.eigenvectors[:, : self.rank].T if kind == "zca" else z

    def tail_p(self, d2: object, *, in_sample: bool) -> np.ndarray:
        """P(D² >= d2) under the law of in-sample or new-sample distances."""
        d2 = np.asarray(d2, dtype=np.float64)
        if self.shrinkage == "sample":
            a, b, scale = _exact_law(self.n, self.rank, in_sample)
            from scipy import stats

            law = stats.beta(a, b) if in_sample else stats.f(a, b)
            return law.sf(d2 / scale)
        null = self._null_draws(in_sample)
        return (1.0 + null.size - np.searchsorted(null, d2, side="left")) / (null.size + 1.0)

    def law_quantiles(self, probs: object, *, in_sample: bool) -> np.ndarray:
        """Quantiles of the distances' law at ``probs`` (for the QQ plot)."""
        probs = np.asarray(probs, dtype=np.float64)
        if self.shrinkage == "sample":
            a, b, scale = _exact_law(self.n, self.rank, in_sample)
            from scipy import stats

            return scale * (stats.beta(a, b) if in_sample else stats.f(a, b)).ppf(probs)
        return np.quantile(self._null_draws(in_sample), probs)

    def law(self, *, in_sample: bool) -> str:
        """The law of the distances, in words."""
        n, r = self.n, self.rank
        if self.shrinkage == "sample" and in_sample:
            return f"n D²/(n-1)² ~ Beta({r}/2, {n - r - 1}/2) (n={n}, rank {r})"
        if self.shrinkage == "sample":
            return f"D² ~ (n+1)/n · r(n-1)/(n-r) · F({r}, {n - r}) (n={n}, rank {r})"
        if in_sample:
            return f"Ledoit-Wolf in-sample D² given the sample spectrum ({NULL_DRAWS:,} draws)"
        return f"Ledoit-Wolf new-sample D², parametric bootstrap ({BOOT_REPS} x {BOOT_NEW:,})"

    def _null_draws(self, in_sample: bool) -> np.ndarray:
        key = "in" if in_sample else "new"
        if key not in self._null:
            rng = np.random.default_rng([self.n, self.d, int(in_sample)])
            draw = _in_sample_null if in_sample else _new_sample_null
            self._null[key] = np.sort(draw(self, rng))
        return self._null[key]

    def save(self, path: str | Path) -> None:
        """Write ``FIT.safetensors`` and its ``FIT.json`` sidecar, both atomically."""
        save_fit(self, path)

    @classmethod
    def load(cls, path: str | Path) -> GaussianFit:
        """Read a fit written by :meth:`save` (BadInputError on a missing or damaged file)."""
        return load_fit(cls, path)


def _exact_law(n: int, r: int, in_sample: bool) -> tuple[float, float, float]:
    """(a, b, scale): D² = scale · Beta(a, b) in-sample, scale · F(a, b) for a new point."""
    if in_sample:
        return r / 2, (n - r - 1) / 2, (n - 1) ** 2 / n
    return r, n - r, (n + 1) / n * r * (n - 1) / (n - r)


def _matrix(x: object) -> np.ndarray:
    a = np.array(x, dtype=np.float64)  # a copy
    if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] == 0:
        raise BadInputError(f"expected a non-empty 2-D matrix of rows, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise BadInputError(f"the matrix has {int(np.sum(~np.isfinite(a)))} non-finite values")
    return a


def _l2(a: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(a, axis=1, keepdims=True)
    return a / np.where(norms > 0, norms, 1.0)


def ledoit_wolf(xc: np.ndarray) -> tuple[float, float]:
    """(rho, mu) of Ledoit-Wolf (2004) for centred rows, as sklearn computes them: the
    shrunk covariance is ``(1-rho) S + rho mu I`` with S = XᵀX/n."""
    n, d = xc.shape
    s = np.linalg.svd(xc, compute_uv=False) ** 2 / n  # eigenvalues of S (up to min(n, d))
    mu = float(s.sum()) / d
    frob2 = float(np.sum(s**2))  # ||S||_F^2
    beta = (float(np.sum(np.sum(xc**2, axis=1) ** 2)) / n - frob2) / (d * n)
    delta = (frob2 - d * mu**2) / d
    beta = min(beta, delta)
    return (0.0 if beta <= 0 else beta / delta), mu


def _choose(n: int, rank: int, shrinkage: str, who: str) -> tuple[str, str]:
    """(estimator, reason) for ``n`` rows whose sample covariance has ``rank``."""
    if shrinkage not in SHRINKAGES:
        raise BadInputError(f"shrinkage is one of {', '.join(SHRINKAGES)}, not {shrinkage!r}")
    if shrinkage == "sample" and n < rank + 2:
        raise BadInputError(
            f"{who}: the sample covariance needs at least rank + 2 = {rank + 2} rows, got {n}; "
            "use --shrinkage ledoit-wolf"
        )
    enough = n >= SAMPLE_RATIO * rank and n >= rank + 2
    if shrinkage == "sample" or (shrinkage == "auto" and enough):
        why = "forced" if shrinkage == "sample" else f"n={n} >= 2·rank={2 * rank}"
        return "sample", f"sample covariance: {why}, the exact Beta/F laws apply"
    why = (
        "forced"
        if shrinkage == "ledoit-wolf"
        else (f"n={n} < 2·rank={2 * rank}, the sample covariance is singular or ill-conditioned")
    )
    return "ledoit-wolf", f"Ledoit-Wolf shrinkage: {why}; tail p-values by Monte Carlo"


def _fit_one(a: np.ndarray, shrinkage: str, view: str, who: str) -> GaussianFit:
    n, d = a.shape
    if n < 3:
        raise BadInputError(f"{who}: a fit needs at least 3 rows, got {n}")
    mean = a.mean(axis=0)
    xc = a - mean
    scatter = xc.T @ xc
    scatter_lam = np.linalg.eigvalsh(scatter)
    top = float(scatter_lam[-1])
    if top <= 0:
        raise BadInputError(f"{who}: the rows are all equal, there is no covariance to fit")
    rank = int(np.count_nonzero(scatter_lam > top * RANK_RTOL))
    kind, reason = _choose(n, rank, shrinkage, who)
    rho = 0.0
    if kind == "sample":
        cov = scatter / (n - 1)
    else:
        rho, mu = ledoit_wolf(xc)
        cov = (1 - rho) * scatter / n + rho * mu * np.eye(d)
        reason = reason.replace("shrinkage:", f"shrinkage (rho={rho:.3g}):", 1)
    cov = (cov + cov.T) / 2
    lam, vec = np.linalg.eigh(cov)
    lam, vec = np.clip(lam[::-1], 0.0, None), np.ascontiguousarray(vec[:, ::-1])
    return GaussianFit(mean, cov, lam, vec, n, kind, float(rho), reason, view,
                       _null={"scatter": np.clip(scatter_lam[::-1], 0.0, None)})  # fmt: skip


def fit(
    x: object,
    *,
    labels: Sequence[object] | None = None,
    shrinkage: str = "auto",
    view: str = "raw",
    provenance: Mapping[str, object] | None = None,
) -> GaussianFit:
    """Fit the Gaussian of rows ``x`` (and one per class of ``labels``)."""
    if view not in ("raw", "l2"):
        raise BadInputError(f"the view is 'raw' or 'l2', not {view!r}")
    a = _matrix(x)
    if view == "l2":
        a = _l2(a)
    pooled = _fit_one(a, shrinkage, view, "the rows")
    classes: dict[str, GaussianFit] = {}
    if labels is not None:
        lab = _labels(labels, a.shape[0])
        for name in sorted(set(lab.tolist())):
            rows = a[lab == name]
            if rows.shape[0] < MIN_CLASS_ROWS:
                raise BadInputError(
                    f"class {name!r} has {rows.shape[0]} rows; a class needs at least "
                    f"{MIN_CLASS_ROWS}"
                )
            classes[name] = _fit_one(rows, shrinkage, view, f"class {name!r}")
    return GaussianFit(
        pooled.mean, pooled.covariance, pooled.eigenvalues, pooled.eigenvectors, pooled.n,
        pooled.shrinkage, pooled.intensity, pooled.reason, view, classes, dict(provenance or {}),
        pooled._null,
    )  # fmt: skip


def _labels(labels: Sequence[object], n: int) -> np.ndarray:
    lab = np.array([str(v) for v in labels], dtype=object)
    if lab.shape[0] != n:
        raise BadInputError(f"the labels have {lab.shape[0]} entries but the matrix has {n} rows")
    return lab


def _in_sample_null(f: GaussianFit, rng: np.random.Generator) -> np.ndarray:
    """In-sample D² given the spectrum: the centred rows are U·diag(√s)·Vᵀ with U Haar whatever
    the covariance, so D_i² = (n-1)²/n · Σ c_j g_j² / (Σ g_j² + χ²_{n-1-k}), c_j = s_j/((n-1)σ_j),
    s_j the scatter's eigenvalues and σ_j the fitted ones (c_j = 1 for the sample covariance)."""
    n, k = f.n, min(f.n - 1, f.d)
    s, sigma = f._null["scatter"][:k], f.eigenvalues[:k]
    c = np.divide(s, (n - 1) * sigma, out=np.zeros(k), where=sigma > 0)
    out = np.empty(NULL_DRAWS)
    for lo in range(0, NULL_DRAWS, 4096):
        g2 = rng.standard_normal((min(4096, NULL_DRAWS - lo), k)) ** 2
        rest = rng.chisquare(n - 1 - k, g2.shape[0]) if n - 1 > k else 0.0
        out[lo : lo + g2.shape[0]] = (g2 @ c) / (g2.sum(axis=1) + rest)
    return out * (n - 1) ** 2 / n


def _new_sample_null(f: GaussianFit, rng: np.random.Generator) -> np.ndarray:
    """New-point D² pooled over refits of n rows drawn from N(0, diag(σ)) (the estimator is
    orthogonally equivariant, so the fitted eigenbasis can be taken as the axes)."""
    sd = np.sqrt(f.eigenvalues)
    out = []
    for _ in range(BOOT_REPS):
        x = rng.standard_normal((f.n, f.d)) * sd
        xc = x - x.mean(axis=0)
        new = rng.standard_normal((BOOT_NEW, f.d)) * sd - x.mean(axis=0)
        rho, mu = ledoit_wolf(xc)
        _, sv, vt = np.linalg.svd(xc, full_matrices=False)
        shrunk = (1 - rho) * sv**2 / f.n + rho * mu
        q = new @ vt.T
        off = np.sum(new**2, axis=1) - np.sum(q**2, axis=1)  # outside the span of the rows
        out.append(np.sum(q**2 / shrunk, axis=1) + (off / (rho * mu) if rho > 0 else 0.0))
    return np.concatenate(out)


def nearest_class(fit: GaussianFit, x: object) -> tuple[np.ndarray, np.ndarray]:
    """(names (m,), log-densities (m, k)): each row's class of highest log-density."""
    if not fit.classes:
        raise BadInputError("the fit has no classes (fit with labels to get a nearest class)")
    names = list(fit.classes)
    logp = np.column_stack([fit.classes[c].logpdf(x) for c in names])
    return np.array(names, dtype=object)[np.argmax(logp, axis=1)], logp


def tail_share(p: object, level: float = 0.01) -> float:
    """Share of p-values below ``level`` (``level`` itself when the Gaussian fits)."""
    p = np.asarray(p, dtype=np.float64)
    return float(np.mean(p < level)) if p.size else float("nan")


def ood_metrics(in_scores: object, out_scores: object) -> tuple[float, float]:
    """(AUROC, FPR at 95% TPR) with the out-of-distribution rows as positives and higher
    score = more OOD; ties count 1/2 in the AUROC and pass the threshold in the FPR."""
    from scipy.stats import rankdata

    a, b = np.asarray(in_scores, np.float64), np.asarray(out_scores, np.float64)
    if a.size == 0 or b.size == 0:
        raise BadInputError("OOD metrics need scores on both sources")
    ranks = rankdata(np.concatenate([a, b]))[a.size :]
    auroc = (ranks.sum() - b.size * (b.size + 1) / 2) / (a.size * b.size)
    threshold = np.sort(b)[::-1][math.ceil(0.95 * b.size - 1e-9) - 1]
    return float(auroc), float(np.mean(a >= threshold))


@dataclass(frozen=True, eq=False)
class ScoreResult:
    """Per-row scores of a matrix under a fit (``score``)."""

    ids: tuple[str, ...]
    mahalanobis2: np.ndarray
    loglik: np.ndarray
    tail_p: np.ndarray
    labels: tuple[str, ...] | None
    nearest: tuple[str, ...] | None
    in_sample: bool
    law: str
    qq: tuple[np.ndarray, np.ndarray]
    tail_share: float
    ood: Mapping[str, float] | None = None


def score_rows(
    fit: GaussianFit, x: object, ids: Sequence[object], *, labels: Sequence[object] | None = None,
    in_sample: bool,
) -> ScoreResult:  # fmt: skip
    """Distances, log-likelihoods and tail p-values of rows under their own class's fit (the
    label's, else the nearest class's) or the pooled fit without classes."""
    a = fit.prepare(x)
    m = a.shape[0]
    if len(ids) != m:
        raise BadInputError(f"{len(ids)} ids for {m} rows")
    lab = nearest = None
    if labels is not None:
        lab = _labels(labels, m)
        if not fit.classes:
            raise BadInputError("labels were given but the fit has no classes (fit with labels)")
        if unknown := sorted(set(lab.tolist()) - set(fit.classes)):
            raise BadInputError(f"labels not among the fit's classes: {', '.join(unknown[:5])}")
    if fit.classes:
        nearest = nearest_class(fit, a)[0]
    own = lab if lab is not None else nearest
    d2, ll, p = np.empty(m), np.empty(m), np.empty(m)
    qx, qy = [], []
    for name, f in fit.classes.items() if fit.classes else [(None, fit)]:
        rows = np.ones(m, bool) if name is None else own == name
        if not rows.any():
            continue
        d2[rows], ll[rows] = f.mahalanobis(a[rows]), f.logpdf(a[rows])
        p[rows] = f.tail_p(d2[rows], in_sample=in_sample)
        k = int(rows.sum())
        qx.append(f.law_quantiles((np.arange(1, k + 1) - 0.5) / k, in_sample=in_sample))
        qy.append(np.sort(d2[rows]))
    qx, qy = np.concatenate(qx), np.concatenate(qy)
    order = np.argsort(qx, kind="stable")
    keep = np.unique(np.linspace(0, m - 1, min(m, QQ_POINTS)).round().astype(int))
    law = fit.law(in_sample=in_sample) + (" per class" if fit.classes else "")
    return ScoreResult(
        tuple(str(i) for i in ids), d2, ll, p,
        None if lab is None else tuple(lab.tolist()),
        None if nearest is None else tuple(nearest.tolist()),
        in_sample, law, (qx[order][keep], qy[order][keep]), tail_share(p),
    )  # fmt: skip
