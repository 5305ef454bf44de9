"""Metrics and p-values -> a row's calls (Gaussian? ✓ ≈ ✗ ?, sphere?, the paper's) and the CI
gates: thresholds, the required call, and a baseline report (refused on other data or another
revision; compared, with a note, at another n, seed or precision). No I/O."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.core.options import Gates
from infogauss_cli.diagnostics.fit import TAIL_LEVEL

Metrics = Mapping[str, Any]  # a row's metrics or null: JSON values by key
AD_CRITICAL = 0.752
DP_ALPHA = 0.05
RELEVANT_EFFECT = 0.04  # effect sizes from here on are "far from Gaussian"
RELEVANT_KURTOSIS = 0.9  # implied excess kurtosis of the radial spread: a Student t10 is 1
WEAK_POWER = 0.5  # below this power against the relevant departure, "nothing found" is "?"
PAPER_MIN_COMPLIANCE = 0.90  # the paper-compliance reading: both compliances at least this
SYMBOLS = {"gaussian": "✓", "practically-gaussian": "≈", "non-gaussian": "✗", "inconclusive": "?"}
CALLS = tuple(SYMBOLS)
# each decorrelated test: metric keys of its p-value and its effect size, what it looks at
TESTS = {
    "ad_count": ("decorrelated_ad_count_p", "decorrelated_effect_excess",
                 "share of decorrelated coordinates with A*^2 < 0.752"),
    "dp_count": ("decorrelated_dp_count_p", "decorrelated_effect_excess",
                 "share of decorrelated coordinates with DP p > 0.05"),
    "worst_coordinate": ("worst_coordinate_p", "worst_coordinate_effect_excess",
                         "the decorrelated coordinate with the largest A*^2"),
    "worst_given_coordinate": ("worst_given_coordinate_p", "worst_given_coordinate_effect_excess",
                               "the coordinate (as given) with the largest A*^2"),
    "radial": ("radial_p", "radial_kurtosis",
               "spread of the squared Mahalanobis distances (Mardia's b2)"),
    "henze_zirkler": ("henze_zirkler_p", None, "Henze-Zirkler on the top principal coordinates"),
}  # fmt: skip
SPHERE_TESTS = {
    "rayleigh": ("sphere_rayleigh_p", "mean direction (Rayleigh)"),
    "bingham": ("sphere_bingham_p", "scatter against I/d (Bingham)"),
}
BASELINE_MUST_MATCH = (("data", "source"), ("protocol", "revision"))
BASELINE_NOTED = (("protocol", "n"), ("protocol", "seed"), ("protocol", "precision"))
SAME_ROW = (("model",), ("tower",), ("protocol", "view"))


@dataclass(frozen=True)
class TestCall:
    """One test of a call: p-value, level, rejected, and the size of what it saw."""

    name: str
    pvalue: float | None
    level: float
    rejected: bool
    effect: float | None = None
    relevant: bool = True


@dataclass(frozen=True)
class SphereCall:
    """``uniform`` / ``non-uniform`` / ``inconclusive`` on the L2 rows, with its tests."""

    call: str
    reasons: tuple[str, ...]
    tests: tuple[TestCall, ...] = ()


@dataclass(frozen=True)
class Verdict:
    """A row's Gaussian? call, its sphere call, and ``other``: the other rule's (reading's)."""

    call: str
    reasons: tuple[str, ...]
    rule: str = "paper"
    alpha: float | None = None
    view: str | None = None
    tests: tuple[TestCall, ...] = ()
    sphere: SphereCall | None = None
    other: Verdict | None = field(default=None, compare=False)

    @property
    def gaussian(self) -> bool:  # ✓ and ≈
        return self.call in ("gaussian", "practically-gaussian")

    @property
    def symbol(self) -> str:
        return SYMBOLS[self.call]

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"call": self.call, "gaussian": self.gaussian, "rule": self.rule}
        out |= {k: v for k, v in (("alpha", self.alpha), ("view", self.view)) if v is not None}
        out["reasons"] = list(self.reasons)
        if self.tests:
            out["tests"] = [asdict(t) for t in self.tests]
        if self.sphere is not None:
            out["sphere"] = asdict(self.sphere)  # tuples: lists in the JSON (model.clean)
        if self.other is not None:
            out[self.other.rule] = self.other.to_dict()
        return out


def judge(
    metrics: Metrics,
    rule: str = "calibrated",
    alpha: float = 0.05,
    null: Metrics | None = None,
    view: str | None = None,
) -> Verdict:
    """The calls of one row from its metrics and ``null`` (powers), the other rule's beside:
    ``calibrated`` (the decorrelated tests at false-alarm rate ``alpha``) or ``paper``."""
    null = null or {}
    sphere = judge_sphere(metrics, null, alpha)
    paper = _judge_paper(metrics, sphere)  # the row's own columns (protocol.view)
    if rule == "paper":
        return paper
    if "decorrelated_k" not in metrics:
        raise BadInputError(
            "the calibrated rule needs the decorrelated tests (metrics from "
            "diagnostics.gaussian_tests); use rule='paper' for the paper's columns alone"
        )
    return replace(_judge_calibrated(metrics, null, alpha, view), sphere=sphere, other=paper)


def _judge_paper(metrics: Metrics, sphere: SphereCall | None) -> Verdict:
    """The paper's thresholds on the means; ``other``: both compliances >= 90%."""
    ad, dp = metrics.get("ad_mean"), metrics.get("dp_mean_p")
    means = [ad is not None and ad < AD_CRITICAL, dp is not None and dp > DP_ALPHA]
    dead = []
    if n_dead := metrics.get("n_dead_columns"):
        dead = [f"{n_dead} dead coordinate(s) (no spread) left out of the compliances"]
    elif constant := metrics.get("n_constant_columns"):
        dead = [f"{constant} constant coordinate(s) count as failures"]
    reasons = [
        f"AD mean {_num(ad)} {'<' if means[0] else '>='} {AD_CRITICAL} (the paper's threshold)",
        f"DP mean p {_num(dp)} {'>' if means[1] else '<='} {DP_ALPHA} (the paper's threshold)",
    ]
    ok, reasons_c = [], []
    for which, desc in (("AD", f"A*^2 < {AD_CRITICAL}"), ("DP", f"p > {DP_ALPHA}")):
        value = metrics.get(f"{which.lower()}_compliance")
        ok.append(value is not None and value >= PAPER_MIN_COMPLIANCE)
        pct = "undefined" if value is None else f"{value:.1%}"
        reasons_c.append(
            f"{which} compliance {pct} {'>=' if ok[-1] else '<'} {PAPER_MIN_COMPLIANCE:.0%} "
            f"(coordinates with {desc}; iid Gaussian: 95%)"
        )
    calls = ["gaussian" if all(o) else "non-gaussian" for o in (means, ok)]
    other = Verdict(calls[1], (*reasons_c, *dead), "paper-compliance")
    return Verdict(calls[0], (*reasons, *dead), "paper", sphere=sphere, other=other)


def _judge_calibrated(metrics: Metrics, null: Metrics, alpha: float, view: str | None) -> Verdict:
    if not metrics.get("decorrelated_k"):
        reason = "collapsed: the rows have no spread (every row is the same), nothing is Gaussian"
        return Verdict("non-gaussian", (reason,), "calibrated", alpha, view)
    present = {k: v for k, v in TESTS.items() if k != "radial" or metrics.get(v[0]) is not None}
    level = alpha / len(present)
    tests = tuple(_test_call(name, metrics, level) for name in present)
    rejected = sorted((t for t in tests if t.rejected), key=lambda t: (not t.relevant, t.pvalue))
    where = "its decorrelated coordinates" if view != "l2" else "its normalised rows' coordinates"
    k, rank, d, rows = (metrics.get(f"decorrelated_{x}") for x in ("k", "rank", "d", "rows"))
    what = "L2-normalised rows" if view == "l2" else "embeddings as given"
    scope = f"tested: {what}, {k} decorrelated coordinates of {rows:,} rows" if rows else what
    low_rank = rank is not None and d is not None and rank < d
    reasons = [scope + (f" (covariance rank {rank} of {d})" if low_rank else "")]
    if not rejected:
        more = null.get("gaussian_n_for_power")
        hint = f"; about n = {more:,} rows would settle it" if more else ""
        weak = _weak(null.get("gaussian_power_relevant"), "one (Student t10 coordinates)", hint)
        call = "inconclusive" if weak else "gaussian"
        reasons.append(weak or f"no departure found in {where} (each test at {level:.3g})")
    else:
        call = "non-gaussian" if any(t.relevant for t in rejected) else "practically-gaussian"
        for t in rejected:
            size = "" if t.effect is None else f", effect {t.effect:+.3f}"
            small = "" if t.relevant else " (below the relevance line)"
            reasons.append(f"{TESTS[t.name][2]}: p = {t.pvalue:.2g} < {level:.3g}{size}{small}")
    return Verdict(call, tuple(reasons), "calibrated", alpha, view, tests)


def _test_call(name: str, metrics: Metrics, level: float) -> TestCall:
    p, effect = (metrics.get(k) if k else None for k in TESTS[name][:2])
    line = RELEVANT_KURTOSIS if name == "radial" else RELEVANT_EFFECT
    relevant = effect is None or abs(effect) >= line
    return TestCall(name, p, level, p is not None and p < level, effect, relevant)


def judge_sphere(metrics: Metrics, null: Metrics, alpha: float) -> SphereCall | None:
    """The sphere call from Rayleigh and Bingham (Bonferroni), None if they were not run."""
    present = {k: v for k, v in SPHERE_TESTS.items() if metrics.get(v[0]) is not None}
    if not present:
        return None
    level = alpha / len(present)
    tests = tuple(
        TestCall(k, metrics[key], level, metrics[key] < level) for k, (key, _) in present.items()
    )
    rejected = [t for t in tests if t.rejected]
    if rejected:
        reasons = [f"{SPHERE_TESTS[t.name][1]}: p = {t.pvalue:.2g} < {level:.3g}" for t in rejected]
        return SphereCall("non-uniform", tuple(reasons), tests)
    if weak := _weak(null.get("sphere_power_relevant"), "anisotropy (variances 1 and 2)"):
        return SphereCall("inconclusive", (weak,), tests)
    reason = f"mean direction and scatter as the uniform sphere's (each test at {level:.3g})"
    return SphereCall("uniform", (reason,), tests)


def _weak(power: float | None, what: str, hint: str = "") -> str | None:
    """Why finding nothing is inconclusive (a power below 1/2 against ``what``), else None."""
    if power is None or power >= WEAK_POWER:
        return None
    return (
        f"no departure found, but a relevant {what} would be caught only {power:.0%} of the "
        f"time at this n{hint}"
    )


def _num(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.3g}"


# ---- the CI gates ------------------------------------------------------------------------
@dataclass(frozen=True)
class GateResult:
    name: str
    threshold: float | str
    value: float | str | None
    passed: bool
    note: str | None = None

    def to_dict(self) -> dict[str, object]:
        out = {"name": self.name, "threshold": self.threshold, "value": self.value}
        return out | {"passed": self.passed} | ({"note": self.note} if self.note else {})


def _bound(name: str, value: float | None, threshold: float, upper: bool) -> GateResult:
    if value is None:
        return GateResult(name, threshold, None, False, "metric undefined for this row")
    passed = value <= threshold if upper else value >= threshold
    return GateResult(name, threshold, value, passed)


def _get(row: Metrics, path: tuple[str, ...]) -> object:
    for key in path:
        row = row.get(key) or {}
    return row if row != {} else None


def _require(verdict: Verdict, want: str) -> GateResult:
    """``gaussian`` passes on ✓ and ≈, ``non-gaussian`` on ✗, ``sphere`` on a uniform call."""
    if want == "sphere":
        got = verdict.sphere.call if verdict.sphere else "not tested"
        ok = got == "uniform"
        note = "; ".join(verdict.sphere.reasons) if verdict.sphere and not ok else None
        return GateResult("require", want, got, ok, note)
    got, reasons = verdict.call, "; ".join(verdict.reasons[1:] or verdict.reasons)
    passed = verdict.gaussian if want == "gaussian" else got == "non-gaussian"
    note = None if passed else f"{verdict.symbol} {got}: {reasons}"
    return GateResult("require", want, got, passed, note)


def evaluate_gates(row: Metrics, verdict: Verdict, gates: Gates) -> list[GateResult]:
    """Every gate asked for, on one report row (a mapping, as the baseline's rows are)."""
    m = row["metrics"]
    out = [_require(verdict, want) for want in gates.require]
    bounds = (
        ("max-cv", m.get("norm_cv"), gates.max_cv, True),
        ("min-ad-compliance", m.get("ad_compliance"), gates.min_ad_compliance, False),
        ("min-dp-compliance", m.get("dp_compliance"), gates.min_dp_compliance, False),
        ("max-ad-mean", m.get("ad_mean"), gates.max_ad_mean, True),
        ("max-effect", m.get("effect_excess"), gates.max_effect, True),
    )
    out += [_bound(name, v, t, upper) for name, v, t, upper in bounds if t is not None]
    if gates.max_tail_excess is not None:
        out.append(_tail_gate(row, gates.max_tail_excess))
    if gates.baseline is not None and gates.max_drop is not None:
        out.extend(_baseline_gates(row, gates.baseline, gates.max_drop))
    return out


def _tail_gate(row: Metrics, threshold: float) -> GateResult:
    """``tail_share - 1%`` at most ``threshold``; undefined (too few rows for d): a failure."""
    share = row["metrics"].get("tail_share")
    if share is not None:
        return _bound("max-tail-excess", round(share - TAIL_LEVEL, 6), threshold, True)
    need = (row.get("null") or {}).get("tail_share_n_needed")
    why = f": the exact in-sample law needs n >= {need} rows at this d" if need else ""
    return GateResult("max-tail-excess", threshold, None, False, f"tail_share undefined{why}")


def _baseline_gates(row: Metrics, baseline: Sequence[Metrics], max_drop: float) -> list[GateResult]:
    match = next((b for b in baseline if all(_get(row, k) == _get(b, k) for k in SAME_ROW)), None)
    if match is None:
        note = "no row for this model, tower and view in the baseline report"
        return [GateResult("max-drop", max_drop, None, False, note)]
    for path in BASELINE_MUST_MATCH:
        mine, theirs = _get(row, path), _get(match, path)
        if path == ("data", "source") and str(mine).startswith("file:"):
            continue  # check: the files are what is compared
        if mine != theirs:
            raise BadInputError(
                f"--baseline: its row for {row.get('model')} has {'.'.join(path)} = {theirs!r}, "
                f"this run {mine!r}: the numbers are not comparable; make the baseline with the "
                "same data and revision"
            )
    pairs = [(path[-1], _get(match, path), _get(row, path)) for path in BASELINE_NOTED]
    unlike = [f"{k} {b} in the baseline, {a} here" for k, b, a in pairs if b not in (None, a)]
    note = ("unlike runs: " + ", ".join(unlike) + " (compliances move with n)") if unlike else None
    out = []
    for key in ("ad_compliance", "dp_compliance"):
        before, now = match["metrics"].get(key), row["metrics"].get(key)
        if before is None or now is None:
            out.append(GateResult(f"max-drop:{key}", max_drop, None, False, "metric undefined"))
            continue
        drop = before - now
        out.append(GateResult(f"max-drop:{key}", max_drop, round(drop, 6), drop <= max_drop, note))
    return out
