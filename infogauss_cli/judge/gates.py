"""The CI gates: thresholds, the required call, and a baseline report (refused on other data or
another revision; compared, with a note, at another n, seed or precision). No I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.core.options import Gates
from infogauss_cli.diagnostics.fit import TAIL_LEVEL
from infogauss_cli.judge.verdict import Metrics, Verdict

BASELINE_MUST_MATCH = (("data", "source"), ("protocol", "revision"))
BASELINE_NOTED = (("protocol", "n"), ("protocol", "seed"), ("protocol", "precision"))
SAME_ROW = (("model",), ("tower",), ("protocol", "view"))


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
