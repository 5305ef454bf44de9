"""infogauss: are your embeddings Gaussian? Diagnostics from "InfoNCE Induces Gaussian
Distribution" (ICLR 2026); the library knows nothing of the CLI (``from infogauss_cli import
diagnose``)."""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"
__all__ = ["GaussianityMonitor", "__version__", "diagnose"]
_LAZY = {
    "diagnose": "infogauss_cli.diagnostics",
    "GaussianityMonitor": "infogauss_cli.pipelines.monitor",
}


def __getattr__(name: str) -> Any:  # lazy: keep `import infogauss_cli` cheap
    if name not in _LAZY:
        raise AttributeError(name)
    return getattr(importlib.import_module(_LAZY[name]), name)
