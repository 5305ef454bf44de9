"""The statistical core: pure numpy/scipy on an (n, d) embedding matrix; no torch, no I/O."""

from __future__ import annotations

from infogauss_cli.diagnostics.diagnosis import Diagnosis, diagnose
from infogauss_cli.diagnostics.validate import (
    InvalidEmbeddingsError,
    apply_view,
    subsample,
    validate_matrix,
)

__all__ = [
    "Diagnosis",
    "InvalidEmbeddingsError",
    "apply_view",
    "diagnose",
    "subsample",
    "validate_matrix",
]
