"""One row per model x tower x view, and the report that holds them (``infogauss.report/v1``)."""

from __future__ import annotations

import math
import platform
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from typing import Any

from infogauss_cli import __version__
from infogauss_cli.judge.verdict import GateResult, Metrics, Verdict

SCHEMA = "infogauss.report/v1"
ROW_KEYS = ("model", "tower", "objective", "backend", "data", "protocol", "metrics", "null")
ROW_KEYS += ("verdict", "gates", "warnings", "timing")  # then those of these that are set:
ROW_OPTIONAL = ("provenance", "per_coordinate", "error", "step")
LIBRARIES = ("numpy", "scipy", "torch", "timm", "transformers", "open_clip_torch")
LIBRARIES += ("sentence-transformers", "datasets")


def clean(value: object) -> Any:
    """JSON-safe copy: numpy scalars/arrays -> Python, NaN/Inf -> None, objects by ``to_dict``."""
    if isinstance(value, Mapping):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    if hasattr(value, "to_dict"):  # a verdict or a gate
        return clean(value.to_dict())
    if hasattr(value, "tolist"):  # numpy array or scalar
        return clean(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass(frozen=True)
class Row:
    """One audited embedding: what it is and how it was obtained, what was measured and what it
    means (given to ``judge.rows``: what the embedding is, with ``metrics`` every row shares)."""

    model: str
    tower: str | None = None
    objective: str | None = None
    backend: str | None = None
    data: Metrics = field(default_factory=dict)
    protocol: Metrics = field(default_factory=dict)
    provenance: Metrics | None = None  # weights_sha256, weights, data_fingerprint
    metrics: Metrics = field(default_factory=dict)
    null: Metrics = field(default_factory=dict)
    verdict: Verdict | None = None
    gates: tuple[GateResult, ...] = ()
    timing: Metrics = field(default_factory=dict)
    per_coordinate: Metrics | None = None
    error: str | None = None  # the row could not be computed (e.g. model failed to load)
    warnings: tuple[str, ...] = ()  # when the call is driven by n, dead coordinates, ...
    # arrays the plots draw, never serialised (judge.rows._plot_arrays)
    arrays: Metrics | None = field(default=None, compare=False, repr=False)
    step: int | None = None  # training step of the checkpoint (``infogauss track``)

    def to_dict(self) -> dict[str, Any]:
        keys = ROW_KEYS + tuple(k for k in ROW_OPTIONAL if getattr(self, k) is not None)
        return clean({k: getattr(self, k) for k in keys})


def _version(name: str) -> str | None:
    """The installed version of ``name`` (torch's without +local), None if not installed."""
    try:
        version = metadata.version(name)
    except metadata.PackageNotFoundError:
        return None
    return version.split("+")[0] if name == "torch" else version


def environment(rows: tuple[Row, ...] = ()) -> dict[str, str | None]:
    """Python, platform, library versions and the devices the rows ran on."""
    devices = sorted({str(r.protocol["device"]) for r in rows if r.protocol.get("device")})
    return {
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        **{name: _version(name) for name in LIBRARIES},
        "device": ", ".join(devices) or "cpu",
    }


@dataclass(frozen=True)
class Report:
    """The rows, and how they were made (``command``: argv; empty when not run from the CLI)."""

    rows: tuple[Row, ...]
    command: tuple[str, ...] = ()
    created: str = field(  # UTC, ISO 8601, to the second
        default_factory=lambda: datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    )

    @property
    def exit_code(self) -> int:
        """3 if a row failed to run, else 1 if a gate failed, else 0."""
        if any(r.error for r in self.rows):
            return 3
        return 0 if all(g.passed for r in self.rows for g in r.gates) else 1

    def to_dict(self) -> dict[str, object]:
        code = self.exit_code
        return {
            "schema": SCHEMA,
            "tool": {"name": "infogauss", "version": __version__},
            "created": self.created,
            "command": list(self.command),
            "infogauss_version": __version__,
            "environment": environment(self.rows),
            "exit_code": code,
            "passed": code == 0,
            "rows": [r.to_dict() for r in self.rows],
        }
