"""The fitted Gaussian of a view: mean, covariance (sample or Ledoit-Wolf), its eigen-decomposition,
whitening, squared Mahalanobis distances, log-likelihoods and their tail p-values.

Laws (affine invariant, exact for Gaussian rows; r = the covariance's rank, usually d): with the
sample covariance (divisor n-1) and the sample mean, in-sample ``n D²/(n-1)² ~ Beta(r/2,
(n-r-1)/2)``; a new independent point ``D² ~ (n+1)/n · r(n-1)/(n-r) · F(r, n-r)``. Ledoit-Wolf
shrinkage has no closed law: distances are drawn from their law given the sample's spectrum
(in-sample exact, new points through the leave-one-out identity: ``_shrinkage_nulls``).
"auto" keeps the sample covariance from n >= 2·rank rows (its smallest eigenvalues are then at
least ≈ 9% of the true ones, Marchenko-Pastur; a new point's D² at most ≈ 2x); below, Ledoit-Wolf.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.diagnostics.fit_file import load_fit, save_fit

MIN_CLASS_ROWS = 10
RANK_RTOL = 1e-10  # eigenvalues below this share of the largest carry no variance
SAMPLE_RATIO = 2.0  # "auto" keeps the sample covariance from n >= 2·rank rows
NULL_DRAWS = 50_000  # Monte Carlo draws of a shrinkage null (ECDF error ~0.006)
QQ_POINTS = 2_000
TAIL_LEVEL = 0.01  # the tail share counts p-values below this: 1% when the Gaussian fits
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
        return int(np.count_nonzero(self.eigenvalues > self.eigenvalues[0] * RANK_RTOL))

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

    def _scale(self, in_sample: bool) -> float:
        """D² / the sample covariance's law: n D²/(n-1)² ~ Beta, D² / scale ~ F for new rows."""
        n, r = self.n, self.rank
        return (n - 1) ** 2 / n if in_sample else (n + 1) / n * r * (n - 1) / (n - r)

    def tail_p(self, d2: object, *, in_sample: bool) -> np.ndarray:
        """P(D² >= d2) under the law of in-sample or new-sample distances."""
        d2 = np.asarray(d2, dtype=np.float64)
        if self.shrinkage == "sample":  # the laws' tails through scipy.special: no scipy.stats
            from scipy.special import betainc, betaincc

            n, r = self.n, self.rank
            scale = self._scale(in_sample)
            if in_sample:
                return betaincc(r / 2, (n - r - 1) / 2, np.clip(d2 / scale, 0.0, 1.0))
            return betainc((n - r) / 2, r / 2, (n - r) / (n - r + r * d2 / scale))
        null = self._null_draws(in_sample)
        return (1.0 + null.size - np.searchsorted(null, d2, side="left")) / (null.size + 1.0)

    def law_quantiles(self, probs: object, *, in_sample: bool) -> np.ndarray:
        """Quantiles of the distances' law at ``probs`` (for the QQ plot)."""
        if self.shrinkage != "sample":
            return np.quantile(self._null_draws(in_sample), probs)
        from scipy import stats

        n, r = self.n, self.rank
        law = stats.beta(r / 2, (n - r - 1) / 2) if in_sample else stats.f(r, n - r)
        return self._scale(in_sample) * law.ppf(np.asarray(probs, dtype=np.float64))

    def law(self, *, in_sample: bool) -> str:
        """The law of the distances, in words."""
        n, r = self.n, self.rank
        if self.shrinkage == "sample" and in_sample:
            return f"n D²/(n-1)² ~ Beta({r}/2, {n - r - 1}/2) (n={n}, rank {r})"
        if self.shrinkage == "sample":
            return f"D² ~ (n+1)/n · r(n-1)/(n-r) · F({r}, {n - r}) (n={n}, rank {r})"
        which = "in-sample" if in_sample else "new-sample (leave-one-out)"
        return f"Ledoit-Wolf {which} D² given the sample spectrum ({NULL_DRAWS:,} draws)"

    def _null_draws(self, in_sample: bool) -> np.ndarray:
        if "in" not in self._null:
            self._null.update(_shrinkage_nulls(self))
        return self._null["in" if in_sample else "new"]

    save = save_fit  # FIT.safetensors and its FIT.json sidecar, both atomically
    load = classmethod(load_fit)  # BadInputError on a missing or damaged file


def _matrix(x: object) -> np.ndarray:
    a = np.array(x, dtype=np.float64)  # a copy
    if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] == 0:
        raise BadInputError(f"expected a non-empty 2-D matrix of rows, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise BadInputError(f"the matrix has {int(np.sum(~np.isfinite(a)))} non-finite values")
    return a


def _l2(a: np.ndarray) -> np.ndarray:
    return a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), np.finfo(np.float64).tiny)


def ledoit_wolf(xc: np.ndarray, s: np.ndarray | None = None) -> tuple[float, float]:
    """(rho, mu) of Ledoit-Wolf (2004) for centred rows (scatter eigenvalues ``s``), as sklearn
    computes them: the shrunk covariance is ``(1-rho) S + rho mu I`` with S = XᵀX/n."""
    n, d = xc.shape
    s = (np.linalg.eigvalsh(xc.T @ xc if d <= n else xc @ xc.T) if s is None else s) / n
    mu = float(s.sum()) / d
    frob2 = float(np.sum(s**2))  # ||S||_F^2
    delta = (frob2 - d * mu**2) / d
    beta = min((float(np.sum(np.sum(xc**2, axis=1) ** 2)) / n - frob2) / (d * n), delta)
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
    why = "forced" if shrinkage == "ledoit-wolf" else f"n={n} < 2·rank={2 * rank}, too few rows"
    return "ledoit-wolf", f"Ledoit-Wolf shrinkage: {why} for a well-conditioned sample covariance"


def _fit_one(a: np.ndarray, shrinkage: str, view: str, who: str) -> GaussianFit:
    n, d = a.shape
    if n < 3:
        raise BadInputError(f"{who}: a fit needs at least 3 rows, got {n}")
    mean = a.mean(axis=0)
    xc = a - mean
    scatter = xc.T @ xc
    s, vec = np.linalg.eigh((scatter + scatter.T) / 2)
    s, vec = np.clip(s[::-1], 0.0, None), np.ascontiguousarray(vec[:, ::-1])
    if s[0] <= 0:
        raise BadInputError(f"{who}: the rows are all equal, there is no covariance to fit")
    kind, reason = _choose(n, int(np.count_nonzero(s > s[0] * RANK_RTOL)), shrinkage, who)
    if kind == "sample":
        rho, cov, lam = 0.0, scatter / (n - 1), s / (n - 1)
    else:
        rho, mu = ledoit_wolf(xc, s)
        cov = (1 - rho) * scatter / n + rho * mu * np.eye(d)
        lam = (1 - rho) * s / n + rho * mu
        reason = reason.replace("shrinkage:", f"shrinkage (rho={rho:.3g}):", 1)
    return GaussianFit(mean, (cov + cov.T) / 2, lam, vec, n, kind, float(rho), reason, view,
                       _null={"scatter": s})  # fmt: skip


def fit(
    x: object, *, labels: Sequence[object] | None = None, shrinkage: str = "auto",
    view: str = "raw", provenance: Mapping[str, object] | None = None,
) -> GaussianFit:  # fmt: skip
    """Fit the Gaussian of rows ``x`` (and one per class of ``labels``)."""
    if view not in ("raw", "l2"):
        raise BadInputError(f"the view is 'raw' or 'l2', not {view!r}")
    a = _l2(_matrix(x)) if view == "l2" else _matrix(x)
    pooled = _fit_one(a, shrinkage, view, "the rows")
    classes: dict[str, GaussianFit] = {}
    if labels is not None:
        lab = _labels(labels, a.shape[0])
        for name in sorted(set(lab.tolist())):
            rows = a[lab == name]
            if len(rows) < MIN_CLASS_ROWS:
                need = f"a class needs at least {MIN_CLASS_ROWS}"
                raise BadInputError(f"class {name!r} has {len(rows)} rows; {need}")
            classes[name] = _fit_one(rows, shrinkage, view, f"class {name!r}")
    return replace(pooled, classes=classes, provenance=dict(provenance or {}))


def _labels(labels: Sequence[object], n: int) -> np.ndarray:
    lab = np.array([str(v) for v in labels], dtype=object)
    if lab.shape[0] != n:
        raise BadInputError(f"the labels have {lab.shape[0]} entries but the matrix has {n} rows")
    return lab


def _shrinkage_nulls(f: GaussianFit) -> dict[str, np.ndarray]:
    """Sorted draws of in-sample and new-point D² given the spectrum. The centred rows are
    U diag(√s) Vᵀ with U Haar whatever the covariance, so a row's coordinates are u_j √s_j with
    u_j² = (n-1)/n · g_j² / (Σ g² + χ²_{n-1-k}): D²_in = Σ s_j u_j² / σ_j (σ the fitted
    eigenvalues). A new point is exchangeable with a held-out row, whose distance to the fit
    on the others is, by Sherman-Morrison with the intensity and mu held, (n/(n-1))² q/(1 - a q),
    q = Σ s_j u_j² / (σ_j + e s_j), e = (1-rho)/(n(n-1)), a = (1-rho) n/(n-1)²."""
    n, k, rho = f.n, min(f.n - 1, f.d), f.intensity
    s, sigma = f._null["scatter"][:k], f.eigenvalues[:k]
    w_in = np.divide(s, sigma, out=np.zeros(k), where=sigma > 0)
    w_new = np.divide(s, sigma + (1 - rho) * s / (n * (n - 1)), out=np.zeros(k), where=sigma > 0)
    rng = np.random.default_rng(np.frombuffer(s.tobytes(), np.uint32))  # one stream per fit
    d_in, d_new = np.empty(NULL_DRAWS), np.empty(NULL_DRAWS)
    for lo in range(0, NULL_DRAWS, 4096):
        g2 = rng.standard_normal((min(4096, NULL_DRAWS - lo), k), dtype=np.float32) ** 2
        rest = rng.chisquare(n - 1 - k, g2.shape[0]) if n - 1 > k else 0.0
        u2 = g2 * ((n - 1) / n / (g2.sum(axis=1) + rest))[:, None]
        q = u2 @ w_new
        d_in[lo : lo + len(g2)] = u2 @ w_in
        d_new[lo : lo + len(g2)] = (n / (n - 1)) ** 2 * q / (1 - (1 - rho) * n / (n - 1) ** 2 * q)
    return {"in": np.sort(d_in), "new": np.sort(d_new)}


def nearest_class(fit: GaussianFit, x: object) -> tuple[np.ndarray, np.ndarray]:
    """(names (m,), log-densities (m, k)): each row's class of highest log-density."""
    if not fit.classes:
        raise BadInputError("the fit has no classes (fit with labels to get a nearest class)")
    names = list(fit.classes)
    logp = np.column_stack([fit.classes[c].logpdf(x) for c in names])
    return np.array(names, dtype=object)[np.argmax(logp, axis=1)], logp


def tail_share(p: object, level: float = TAIL_LEVEL) -> float:
    """Share of p-values below ``level`` (``level`` itself when the Gaussian fits)."""
    return float(np.mean(np.asarray(p, dtype=np.float64) < level))


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
    lab = None
    if labels is not None:
        lab = _labels(labels, m)
        if not fit.classes:
            raise BadInputError("labels were given but the fit has no classes (fit with labels)")
        if unknown := sorted(set(lab.tolist()) - set(fit.classes)):
            raise BadInputError(f"labels not among the fit's classes: {', '.join(unknown[:5])}")
    nearest = nearest_class(fit, a)[0] if fit.classes else None
    own = lab if lab is not None else nearest
    d2, ll, p = np.empty(m), np.empty(m), np.empty(m)
    qx, qy, fits = [], [], fit.classes or {"": fit}
    for name, f in fits.items():
        rows = own == name if fit.classes else np.ones(m, bool)
        if k := int(rows.sum()):
            d2[rows], ll[rows] = f.mahalanobis(a[rows]), f.logpdf(a[rows])
            p[rows] = f.tail_p(d2[rows], in_sample=in_sample)
            qx.append(f.law_quantiles((np.arange(1, k + 1) - 0.5) / k, in_sample=in_sample))
            qy.append(np.sort(d2[rows]))
    qx, qy = np.concatenate(qx), np.concatenate(qy)
    order = np.argsort(qx, kind="stable")
    keep = np.unique(np.linspace(0, m - 1, min(m, QQ_POINTS)).round().astype(int))
    laws = [f"{c}: " * bool(c) + f.law(in_sample=in_sample) for c, f in fits.items()]
    law = "; ".join(laws[:3]) + ("; ..." if len(laws) > 3 else "")
    return ScoreResult(
        tuple(str(i) for i in ids), d2, ll, p,
        None if lab is None else tuple(lab.tolist()),
        None if nearest is None else tuple(nearest.tolist()),
        in_sample, law, (qx[order][keep], qy[order][keep]), tail_share(p),
    )  # fmt: skip
