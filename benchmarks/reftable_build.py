"""Makes and checks ``infogauss_cli/diagnostics/reference_table.tsv`` (developer tool).

    python benchmarks/reftable_build.py > infogauss_cli/diagnostics/reference_table.tsv
    python benchmarks/reftable_build.py --check    # the table against fresh simulations

Every cell has its own seed; the header records seeds, grids and column counts.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from infogauss_cli.diagnostics.reference import (
    FIELDS,
    HEAD,
    LEVELS,
    TABLE_FILE,
    TABLE_SEED,
    lookup,
    sphere_s,
)
from infogauss_cli.diagnostics.refsim import simulate, summarise

CHECK_SEED = 20260302
RAW_N = (20, 30, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 25000, 100000, 1000000, 10000000)
SPHERE_N = (20, 25, 30, 35, 40, 50, 60, 70, 85, 100, 120, 150, 200, 300, 500, 700, 1000, 1500)
SPHERE_N += (2000, 3000, 5000)
RAW_BUDGET, SPHERE_BUDGET, SPHERE_BUDGET_FLAT = 40_000_000, 12_000_000, 3_000_000
MIN_COLUMNS, MAX_COLUMNS = 24, 40_000
QUANTILES_UP_TO = 25_000  # raw: beyond this n the DP p-value quantiles are those of this n
CHECK_POINTS = (
    (22, 3), (45, 2), (45, 7), (80, 12), (170, 24), (250, 45), (850, 100), (1800, 300),
    (2500, 45), (4000, 1000), (7000, 70), (20000, 128), (100000, 1024), (3500, 8), (130, 4),
    (550, 10), (1000000, 64), (1000000, 768),
)  # fmt: skip


def _columns(n: int, budget: int) -> int:
    return int(np.clip(budget // n, MIN_COLUMNS, MAX_COLUMNS))


def sphere_dims(n: int) -> list[int]:
    """The integer d of the l2 cells at n rows: log-spaced s, fine where the rates move, and
    every d up to 16 (small d do not collapse onto s)."""
    edges = [(0.01, 0.4, 0.3), (0.4, 8.0, 0.08), (8.0, 200.0, 0.3)]
    logs = np.concatenate([np.arange(math.log(a), math.log(b), h) for a, b, h in edges])
    d = np.rint(6.0 * math.sqrt(n / 24.0) / np.exp(logs) - 2.0)
    return sorted({int(v) for v in np.clip(d, 2, 8192)} | set(range(2, 17)) | {8192})


def _quantiles(p: np.ndarray) -> np.ndarray:
    p = p[np.isfinite(p)]
    return np.quantile(p, LEVELS) if p.size else np.full(LEVELS.size, np.nan)


def raw_row(n: int, seed: int = TABLE_SEED) -> list[float]:
    """One raw row: null-table rates and means, simulated effect, t10 rates and quantiles."""
    m = _columns(n, RAW_BUDGET)
    sim = simulate(n, 0, "raw", m, seed)
    f = summarise(sim, n, "raw")
    q = _quantiles(sim["p"])
    return [0, n, 0, 0.0, m, *(f[k] for k in FIELDS), *q]


def sphere_row(n: int, d: int, seed: int = TABLE_SEED) -> list[float]:
    """One l2 cell, with the control variate for rates, means and the effect size."""
    s = sphere_s(n, d)
    m = _columns(n, SPHERE_BUDGET if s >= 0.3 else SPHERE_BUDGET_FLAT)
    sim = simulate(n, d, "l2", m, seed, alt=False)
    f = summarise(sim, n, "l2")
    g = _gaussian_effect(n)
    f["effect"] = g + float(np.mean(sim["w1"] - sim["w1_g"]))
    f["alt_ad_rate"] = f["alt_dp_rate"] = float("nan")  # read from the raw rows
    return [1, n, d, s, m, *(f[k] for k in FIELDS), *_quantiles(sim["p"])]


_GEFF: dict[int, float] = {}


def _gaussian_effect(n: int) -> float:
    if n not in _GEFF:
        _GEFF[n] = float(np.mean(simulate(n, 0, "raw", _columns(n, RAW_BUDGET), TABLE_SEED)["w1"]))
    return _GEFF[n]


def build() -> list[list[float]]:
    """Every row of the table (raw first)."""
    rows = [raw_row(n) for n in RAW_N]
    top = next(r for r in rows if r[1] == QUANTILES_UP_TO)
    for r in rows:
        if r[1] > QUANTILES_UP_TO:
            r[len(HEAD) + len(FIELDS) :] = top[len(HEAD) + len(FIELDS) :]
        else:
            _GEFF[int(r[1])] = r[len(HEAD) + FIELDS.index("effect")]
    for n in SPHERE_N:
        rows += [sphere_row(n, d) for d in sphere_dims(n)]
    return rows


def header(seconds: float) -> str:
    return "\n".join(
        [
            "# The reference table of infogauss_cli/diagnostics/reference.py (see its docstring).",
            "# Made by `python benchmarks/reftable_build.py >"
            " infogauss_cli/diagnostics/reference_table.tsv`",
            f"# in {seconds:.0f} s: seed {TABLE_SEED} (refsim.simulate: np.random.default_rng("
            "[seed, n, d, 1]) for l2, [seed, n, 0, 0] for raw), float32 draws;",
            f"# raw: n in {RAW_N}, columns = clip({RAW_BUDGET:,} / n, {MIN_COLUMNS},"
            f" {MAX_COLUMNS}); rates and means from null_table.tsv;",
            f"# l2: n in {SPHERE_N}, d from sphere_dims(n), columns = clip(budget / n,"
            f" {MIN_COLUMNS}, {MAX_COLUMNS}), budget {SPHERE_BUDGET:,} where s >= 0.3,"
            f" else {SPHERE_BUDGET_FLAT:,}; check: seed {CHECK_SEED}, `--check`.",
            "# q_*: DP p-value quantiles at levels " + " ".join(f"{v:g}" for v in LEVELS),
            "\t".join([*HEAD, *FIELDS, *(f"q{i}" for i in range(LEVELS.size))]),
        ]
    )


def _fmt(v: float) -> str:
    return "nan" if not math.isfinite(v) else f"{v:.6g}"


def check(
    points: tuple[tuple[int, int], ...] = CHECK_POINTS,
    budget: int = 20_000_000,
    out=sys.stderr,
) -> dict[str, float]:
    """Table against direct simulations (seed :data:`CHECK_SEED`) at ``points``: prints each
    point and returns the largest absolute errors (``ad``, ``dp`` rates, ``effect``, relative
    ``effect_rel``) and the largest rate error in combined SEs (``z``)."""
    worst = {"ad": 0.0, "dp": 0.0, "effect_rel": 0.0, "z": 0.0}
    for n, d in points:
        got = lookup(n, d, "l2")
        if got is None:
            print(f"n={n} d={d}: not in the table", file=out)
            continue
        t, _ = got
        m = _columns(n, budget)
        f = summarise(simulate(n, d, "l2", m, CHECK_SEED, alt=False), n, "l2")
        line = [f"n={n:>7} d={d:>5} s={sphere_s(n, d):7.3f} m={m:>6}"]
        for k in ("ad", "dp"):
            err = t[f"{k}_rate"] - f[f"{k}_rate"]
            se = math.hypot(t[f"{k}_rate_se"], f[f"{k}_rate_se"])
            worst[k] = max(worst[k], abs(err))
            worst["z"] = max(worst["z"], abs(err) / se)
            line.append(f"{k} {t[k + '_rate']:.4f} {err:+.4f} ({err / se:+.1f} se)")
        rel = t["effect"] / f["effect"] - 1
        worst["effect_rel"] = max(worst["effect_rel"], abs(rel))
        line.append(f"effect {t['effect']:.5f} vs {f['effect']:.5f} ({rel:+.3f})")
        print("  ".join(line), file=out, flush=True)
    print("max errors: " + ", ".join(f"{k} {v:.4f}" for k, v in worst.items()), file=out)
    return worst


def main(argv: list[str]) -> None:
    if "--check" not in argv:
        t0 = time.perf_counter()
        rows = build()
        print(header(time.perf_counter() - t0))
        for r in rows:
            print("\t".join([str(int(v)) for v in r[:3]] + [_fmt(v) for v in r[3:]]))
        sys.stdout.flush()
        print(f"table made; check against {TABLE_FILE} once installed", file=sys.stderr)
    else:
        check()


if __name__ == "__main__":  # pragma: no cover - regenerates the table (about 15 minutes)
    main(sys.argv[1:])
