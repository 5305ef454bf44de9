"""The CI gates of DESIGN.md: thresholds, the required call, and a baseline report. No I/O.

``--baseline`` compares a row with the baseline row of the same model, tower and view. A
baseline made on other data (another ``--data`` source; a matrix file of ``check`` is the thing
compared, so its path may differ) or another revision is refused (exit 2): the numbers are not
comparable. A baseline at another n, seed or precision is compared, with a note on the gate
saying so: compliances and effect sizes move with n (docs/ci.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.core.options import GATE_OPTIONS, REQUIRE, Gates
from infogauss_cli.judge.verdict import Verdict

BASELINE_MUST_MATCH = (("data", "source"), ("protocol", "revision"))
BASELINE_NOTED = (("protocol", "n"), ("protocol", "seed"), ("protocol", "precision"))


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


def _bound(name: str, value: float | None, threshold: float, upper: bool) -> GateResult:
    if value is None:
        return GateResult(name, threshold, None, False, "metric undefined for this row")
    passed = value <= threshold if upper else value >= threshold
    return GateResult(name, threshold, value, passed)


def _get(row: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    for key in path:
        row = row.get(key) or {}
    return row if row != {} else None


def _same_row(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    keys = (("model",), ("tower",), ("protocol", "view"))
    return all(_get(a, k) == _get(b, k) for k in keys)


def _require(verdict: Verdict, want: str) -> GateResult:
    """``gaussian`` passes on ✓ and ≈, ``non-gaussian`` on ✗, ``sphere`` on a uniform call;
    a failure says which call it got and, for ?, what would settle it."""
    if want == "sphere":
        got = verdict.sphere.call if verdict.sphere else "not tested"
        note = (
            None
            if got == "uniform"
            else "; ".join(verdict.sphere.reasons)
            if verdict.sphere
            else None
        )
        return GateResult("require", want, got, got == "uniform", note)
    got = verdict.call
    passed = verdict.gaussian if want == "gaussian" else got == "non-gaussian"
    note = None
    if not passed:
        symbol = verdict.symbol
        note = f"{symbol} {got}: " + "; ".join(verdict.reasons[1:] or verdict.reasons)
    return GateResult("require", want, got, passed, note)


def evaluate_gates(row: Mapping[str, Any], verdict: Verdict, gates: Gates) -> list[GateResult]:
    """Evaluate every gate asked for against one report row (``model``, ``tower``,
    ``protocol``, ``data`` and ``metrics`` are read)."""
    m = row["metrics"]
    out: list[GateResult] = []
    out += [_require(verdict, want) for want in gates.require]
    bounds = (
        ("max-cv", m.get("norm_cv"), gates.max_cv, True),
        ("min-ad-compliance", m.get("ad_compliance"), gates.min_ad_compliance, False),
        ("min-dp-compliance", m.get("dp_compliance"), gates.min_dp_compliance, False),
        ("max-ad-mean", m.get("ad_mean"), gates.max_ad_mean, True),
        ("max-effect", m.get("effect_excess"), gates.max_effect, True),
    )
    out += [_bound(name, v, t, upper) for name, v, t, upper in bounds if t is not None]
    if gates.baseline is not None and gates.max_drop is not None:
        out.extend(_baseline_gates(row, gates.baseline, gates.max_drop))
    return out


def _baseline_gates(
    row: Mapping[str, Any], baseline: Sequence[Mapping[str, Any]], max_drop: float
) -> list[GateResult]:
    match = next((b for b in baseline if _same_row(row, b)), None)
    if match is None:
        note = "no row for this model, tower and view in the baseline report"
        return [GateResult("max-drop", max_drop, None, False, note)]
    for path in BASELINE_MUST_MATCH:
        mine, theirs = _get(row, path), _get(match, path)
        if path == ("data", "source") and str(mine).startswith("file:"):
            continue  # check: the files are what is compared
        if mine != theirs:
            raise BadInputError(
                f"--baseline: its row for {row.get('model')} has {'.'.join(path)} = "
                f"{_get(match, path)!r}, this run {_get(row, path)!r}: the numbers are not "
                "comparable; make the baseline with the same data and revision"
            )
    unlike = [
        f"{path[-1]} {_get(match, path)} in the baseline, {_get(row, path)} here"
        for path in BASELINE_NOTED
        if _get(match, path) is not None and _get(match, path) != _get(row, path)
    ]
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


__all__ = ["GATE_OPTIONS", "REQUIRE", "GateResult", "Gates", "evaluate_gates"]
