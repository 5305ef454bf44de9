"""Metrics + thresholds -> a verdict, and the CI gates of DESIGN.md.

Two rules (docs/diagnostics.md):

- ``calibrated`` (default): a significance call against the reference of the row's view (iid
  Gaussian coordinates for ``raw``, the uniform sphere for ``l2``) at the same n and d. Each
  compliance is compared with the lower ``alpha / 2`` quantile of its distribution under the
  reference (Bonferroni over the two tests), so the reference itself is called non-Gaussian in
  at most ``alpha`` of samples, at every n >= 20 and d >= 2. The minimum compliances come with
  the row (``null.ad_compliance_min``/``dp_compliance_min``, computed by the diagnostics).
- ``paper``: the paper's fixed rule, both compliances >= 0.90, kept to compare with its table.

Both calls are reported; ``verdict.gaussian`` is the chosen rule's. A calibrated call answers
"is the departure detectable at this n", not "is it large": ``metrics.effect_size`` (mean QQ
distance of a coordinate to N(0, 1), in standard deviations) says how large, and
:func:`row_warnings` says when the call is driven by n. Norm CV is reported and can be gated on
(``--max-cv``) but is not part of the verdict: it depends on d and is 0 after L2 normalisation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import BadInputError
from .options import RULES, VERDICT_MODES

AD_CRITICAL = 0.752
DP_ALPHA = 0.05
DEFAULT_ALPHA = 0.05
RELEVANT_EFFECT = 0.04  # as diagnostics.reference.RELEVANT_EFFECT (a Student t10 is 0.044)
WEAK_POWER = 0.5  # a pass is weak evidence when a relevant departure is caught less often


@dataclass(frozen=True)
class Rule:
    """Which rule calls a row Gaussian: ``calibrated`` at false-alarm rate ``alpha`` against
    the reference of the view, or ``paper`` (both compliances >= the two minimums)."""

    name: str = "calibrated"
    alpha: float = DEFAULT_ALPHA
    min_ad_compliance: float = 0.90
    min_dp_compliance: float = 0.90

    def __post_init__(self) -> None:
        if self.name not in RULES:
            raise BadInputError(f"unknown rule {self.name!r}; expected one of {', '.join(RULES)}")
        if not 0.0 < self.alpha < 1.0:
            raise BadInputError(f"--alpha must be between 0 and 1 (exclusive), got {self.alpha}")


PAPER = Rule(name="paper")


@dataclass(frozen=True)
class Verdict:
    """The chosen rule's call (``gaussian``, ``reasons``), and the other rule's (``other``)."""

    gaussian: bool
    reasons: tuple[str, ...]
    rule: str = "paper"
    alpha: float | None = None
    other: Verdict | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"gaussian": self.gaussian, "rule": self.rule}
        if self.alpha is not None:
            out["alpha"] = self.alpha
        out["reasons"] = list(self.reasons)
        if self.other is not None:
            o = self.other
            out[o.rule] = {"gaussian": o.gaussian, "reasons": list(o.reasons)}
            if o.alpha is not None:
                out[o.rule]["alpha"] = o.alpha
        return out


def judge(
    metrics: Mapping[str, Any],
    rule: Rule = Rule(),
    mode: str = "coordinates",
    null: Mapping[str, Any] | None = None,
) -> Verdict:
    """The Gaussian / not-Gaussian call from a row's metrics (and its ``null``: the reference
    of its view, which the calibrated rule needs), with the other rule's call beside it.

    ``mode="coordinates"`` (default) reads the per-coordinate compliances; ``"projections"``
    reads ``proj_ad_compliance``/``proj_dp_compliance`` (random projections of the L2 rows,
    rotation invariant), against the sphere's minimums ``null.proj_*_compliance_min``."""
    if mode not in VERDICT_MODES:
        raise BadInputError(f"unknown verdict mode {mode!r}; expected one of {VERDICT_MODES}")
    paper = _judge_paper(metrics, rule, mode)
    cal = _judge_calibrated(metrics, rule, mode, null or {})
    if rule.name == "paper":
        return paper if cal is None else _with_other(paper, cal)
    if cal is None:
        raise BadInputError(
            "the calibrated rule needs the reference's minimum compliances (the row's null); "
            "use Rule(name='paper') for metrics alone"
        )
    return _with_other(cal, paper)


def _with_other(main: Verdict, other: Verdict) -> Verdict:
    return Verdict(main.gaussian, main.reasons, main.rule, main.alpha, other)


def _prefix(mode: str) -> tuple[str, str, str]:
    proj = mode == "projections"
    return ("proj_", "random projections", "projection ") if proj else ("", "coordinates", "")


def _judge_paper(metrics: Mapping[str, Any], rule: Rule, mode: str) -> Verdict:
    prefix, unit, what = _prefix(mode)
    ad, dp = metrics[f"{prefix}ad_compliance"], metrics[f"{prefix}dp_compliance"]
    checks = [
        (ad, rule.min_ad_compliance, f"{what}AD compliance", f"{unit} with A*^2 < {AD_CRITICAL}"),
        (dp, rule.min_dp_compliance, f"{what}DP compliance", f"{unit} with p > {DP_ALPHA}"),
    ]
    reasons = []
    oks = []
    for value, threshold, label, desc in checks:
        ok = value is not None and value >= threshold
        oks.append(ok)
        reasons.append(
            f"{label} {_pct(value)} {'>=' if ok else '<'} {threshold:.0%} "
            f"({desc}; iid Gaussian: 95%)"
        )
    _dead_reason(metrics, mode, reasons)
    return Verdict(gaussian=all(oks), reasons=tuple(reasons), rule="paper")


def _judge_calibrated(
    metrics: Mapping[str, Any], rule: Rule, mode: str, null: Mapping[str, Any]
) -> Verdict | None:
    prefix, unit, what = _prefix(mode)
    mins = null.get(f"{prefix}ad_compliance_min"), null.get(f"{prefix}dp_compliance_min")
    if any(m is None for m in mins):
        return None
    label = "the uniform sphere" if prefix else str(null.get("reference", "the reference"))
    label = "the " + label.split(": ")[-1] if ": " in label else label
    half = rule.alpha / 2
    reasons = []
    oks = []
    for which, cmin in zip(("ad", "dp"), mins, strict=True):
        value = metrics[f"{prefix}{which}_compliance"]
        expected = null.get(f"{prefix}{which}_compliance")
        ok = value is not None and value >= cmin - 1e-12
        oks.append(ok)
        exp = f", expected {_pct(expected)}" if expected is not None else ""
        reasons.append(
            f"{what}{which.upper()} compliance {_pct(value)} {'>=' if ok else '<'} "
            f"{_pct(cmin)} (the {half:.1%} lower quantile of the {unit}' compliance under "
            f"{label}{exp})"
        )
    _dead_reason(metrics, mode, reasons)
    return Verdict(gaussian=all(oks), reasons=tuple(reasons), rule="calibrated", alpha=rule.alpha)


def _dead_reason(metrics: Mapping[str, Any], mode: str, reasons: list[str]) -> None:
    if mode == "projections":
        return
    if metrics.get("n_dead_columns"):
        reasons.append(
            f"{metrics['n_dead_columns']} dead coordinate(s) (no spread) left out of the "
            "compliances"
        )
    elif metrics.get("n_constant_columns"):
        reasons.append(f"{metrics['n_constant_columns']} constant coordinate(s) count as failures")


def _pct(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.1%}"


def row_warnings(
    metrics: Mapping[str, Any],
    null: Mapping[str, Any],
    verdict: Verdict,
    n: int,
    mode: str = "coordinates",
) -> list[str]:
    """When the call is driven by n rather than by the size of the departure:

    - a ✗ whose effect size is below the relevant size (0.04, a Student t10 is 0.044): the
      departure is detectable at this n but small, and within the reference's spread at a
      smaller n (the reference's effect size falls about as 1/sqrt(n));
    - a ✓ at an n (and d) where a relevant departure (iid Student t10 coordinates) would fail
      the same rule less than half of the time (``null.power_relevant``)."""
    out: list[str] = []
    if mode != "coordinates":
        return out
    es, ref = metrics.get("effect_size"), null.get("effect_size")
    if not verdict.gaussian and es is not None and es < RELEVANT_EFFECT:
        smaller = ""
        if ref is not None and es > ref > 0:
            n_small = int(n * (ref / es) ** 2)
            smaller = f"; at n ≲ {n_small:,} it is within the reference's spread"
        out.append(
            f"✗ driven by n: effect size {es:.3f} is small (< {RELEVANT_EFFECT}, a t10 is "
            f"0.044): detectable at n = {n:,}, not far from Gaussian{smaller}"
        )
    key = "power_relevant" if verdict.rule == "calibrated" else "power_relevant_paper"
    power = null.get(key)
    if verdict.gaussian and power is not None and power < WEAK_POWER:
        out.append(
            f"✓ is weak evidence at n = {n:,}: a relevant departure (Student t10 "
            f"coordinates, effect size 0.044) would be caught only {power:.0%} of the time"
        )
    return out


@dataclass(frozen=True)
class Gates:
    """The gates asked for on the command line; None means not asked."""

    require: str | None = None  # "gaussian" | "non-gaussian"
    max_cv: float | None = None
    min_ad_compliance: float | None = None
    min_dp_compliance: float | None = None
    max_ad_mean: float | None = None
    max_effect: float | None = None
    max_drop: float | None = None
    baseline: tuple[Mapping[str, Any], ...] | None = None  # rows of an earlier report

    def __post_init__(self) -> None:
        if self.require not in (None, "gaussian", "non-gaussian"):
            raise BadInputError(f"--require must be gaussian or non-gaussian, got {self.require}")
        if (self.baseline is None) != (self.max_drop is None):
            raise BadInputError("--baseline and --max-drop go together: give both or neither")


@dataclass(frozen=True)
class GateResult:
    name: str
    threshold: float | str
    value: float | str | None
    passed: bool
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {
            "name": self.name,
            "threshold": self.threshold,
            "value": self.value,
            "passed": self.passed,
        }
        if self.note:
            out["note"] = self.note
        return out


def gates_from_options(
    *,
    require: str | None = None,
    max_cv: float | None = None,
    min_ad_compliance: float | None = None,
    min_dp_compliance: float | None = None,
    max_ad_mean: float | None = None,
    max_effect: float | None = None,
    baseline: str | Path | None = None,
    max_drop: float | None = None,
) -> Gates:
    """Build :class:`Gates` from the gate options (names as on the command line), reading the
    baseline report if one is named."""
    given = {k: v for k, v in locals().items() if k != "baseline"}  # the keywords, as given
    rows: Sequence[Mapping[str, Any]] | None = None
    if baseline is not None:
        from .report.json_report import read_report

        rows = tuple(read_report(Path(baseline))["rows"])
    return Gates(**given, baseline=rows)


GATE_OPTIONS = tuple(gates_from_options.__kwdefaults__)


def _bound(name: str, value: float | None, threshold: float, upper: bool) -> GateResult:
    if value is None:
        return GateResult(name, threshold, None, False, "metric undefined for this row")
    passed = value <= threshold if upper else value >= threshold
    return GateResult(name, threshold, value, passed)


def _same_row(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    keys = (("model",), ("tower",), ("protocol", "view"))

    def get(row: Mapping[str, Any], path: tuple[str, ...]) -> Any:
        for key in path:
            row = row.get(key) or {}
        return row or None

    return all(get(a, k) == get(b, k) for k in keys)


def evaluate_gates(row: Mapping[str, Any], verdict: Verdict, gates: Gates) -> list[GateResult]:
    """Evaluate every gate asked for against one report row (``model``, ``tower``,
    ``protocol.view`` and ``metrics`` are read)."""
    m = row["metrics"]
    out: list[GateResult] = []
    if gates.require is not None:
        got = "gaussian" if verdict.gaussian else "non-gaussian"
        out.append(GateResult("require", gates.require, got, got == gates.require))
    if gates.max_cv is not None:
        out.append(_bound("max-cv", m.get("norm_cv"), gates.max_cv, upper=True))
    if gates.min_ad_compliance is not None:
        out.append(
            _bound("min-ad-compliance", m["ad_compliance"], gates.min_ad_compliance, upper=False)
        )
    if gates.min_dp_compliance is not None:
        out.append(
            _bound("min-dp-compliance", m["dp_compliance"], gates.min_dp_compliance, upper=False)
        )
    if gates.max_ad_mean is not None:
        out.append(_bound("max-ad-mean", m.get("ad_mean"), gates.max_ad_mean, upper=True))
    if gates.max_effect is not None:
        out.append(_bound("max-effect", m.get("effect_size"), gates.max_effect, upper=True))
    if gates.baseline is not None and gates.max_drop is not None:
        out.extend(_baseline_gates(row, gates.baseline, gates.max_drop))
    return out


def _baseline_gates(
    row: Mapping[str, Any], baseline: Sequence[Mapping[str, Any]], max_drop: float
) -> list[GateResult]:
    match = next((b for b in baseline if _same_row(row, b)), None)
    if match is None:
        return [
            GateResult(
                "max-drop",
                max_drop,
                None,
                False,
                "no row for this model, tower and view in the baseline report",
            )
        ]
    out = []
    for key in ("ad_compliance", "dp_compliance"):
        drop = match["metrics"][key] - row["metrics"][key]
        out.append(GateResult(f"max-drop:{key}", max_drop, round(drop, 6), drop <= max_drop))
    return out
