"""Metrics + thresholds -> a verdict, and the CI gates of DESIGN.md.

Default rule (documented in docs/diagnostics.md): an embedding is called Gaussian when BOTH the
Anderson-Darling and the D'Agostino-Pearson compliance are at least 0.90. The anchor is the null:
iid Gaussian coordinates pass each test at the 5% level, so their compliance is 0.95 (with a
binomial spread of about +-0.015 at d = 768). A margin of 0.05 below the null keeps embeddings
that are Gaussian up to small per-coordinate departures, and rejects what the paper calls
non-Gaussian (its supervised rows sit at 0-49% DP compliance, its contrastive rows at 94-99.6%).
Norm CV is reported, and can be gated on with ``--max-cv``, but is not part of the verdict: it
depends on the dimension (about 1/sqrt(2d) for an isotropic Gaussian) and is undefined after
L2 normalisation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import BadInputError
from .options import VERDICT_MODES

AD_CRITICAL = 0.752
DP_ALPHA = 0.05


@dataclass(frozen=True)
class Rule:
    """Thresholds of the default verdict."""

    min_ad_compliance: float = 0.90
    min_dp_compliance: float = 0.90


@dataclass(frozen=True)
class Verdict:
    gaussian: bool
    reasons: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"gaussian": self.gaussian, "reasons": list(self.reasons)}


def judge(metrics: Mapping[str, Any], rule: Rule = Rule(), mode: str = "coordinates") -> Verdict:
    """The Gaussian / not-Gaussian call from a row's metrics.

    ``mode="coordinates"`` (default) reads the per-coordinate compliances; ``"projections"``
    reads ``proj_ad_compliance``/``proj_dp_compliance`` (random projections of the L2 rows,
    rotation invariant), with the same thresholds."""
    if mode not in VERDICT_MODES:
        raise BadInputError(f"unknown verdict mode {mode!r}; expected one of {VERDICT_MODES}")
    proj = mode == "projections"
    prefix, unit = ("proj_", "random projections") if proj else ("", "coordinates")
    ad, dp = metrics[f"{prefix}ad_compliance"], metrics[f"{prefix}dp_compliance"]
    what = "projection " if proj else ""
    checks = [
        (
            ad is not None and ad >= rule.min_ad_compliance,
            f"{what}AD compliance {_pct(ad)}",
            rule.min_ad_compliance,
            f"{unit} with A*^2 < {AD_CRITICAL}",
        ),
        (
            dp is not None and dp >= rule.min_dp_compliance,
            f"{what}DP compliance {_pct(dp)}",
            rule.min_dp_compliance,
            f"{unit} with p > {DP_ALPHA}",
        ),
    ]
    reasons = [
        f"{label} {'>=' if ok else '<'} {threshold:.0%} ({desc}; iid Gaussian: 95%)"
        for ok, label, threshold, desc in checks
    ]
    if metrics.get("n_constant_columns") and not proj:
        reasons.append(f"{metrics['n_constant_columns']} constant coordinate(s) count as failures")
    return Verdict(gaussian=all(ok for ok, *_ in checks), reasons=tuple(reasons))


def _pct(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.1%}"


@dataclass(frozen=True)
class Gates:
    """The gates asked for on the command line; None means not asked."""

    require: str | None = None  # "gaussian" | "non-gaussian"
    max_cv: float | None = None
    min_ad_compliance: float | None = None
    min_dp_compliance: float | None = None
    max_ad_mean: float | None = None
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
    baseline: str | Path | None = None,
    max_drop: float | None = None,
) -> Gates:
    """Build :class:`Gates` from the gate options (names as on the command line), reading the
    baseline report if one is named."""
    rows: Sequence[Mapping[str, Any]] | None = None
    if baseline is not None:
        from .report.json_report import read_report

        rows = tuple(read_report(Path(baseline))["rows"])
    return Gates(
        require=require,
        max_cv=max_cv,
        min_ad_compliance=min_ad_compliance,
        min_dp_compliance=min_dp_compliance,
        max_ad_mean=max_ad_mean,
        max_drop=max_drop,
        baseline=rows,
    )


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
