"""infogauss: are your embeddings Gaussian?

Diagnostics from "InfoNCE Induces Gaussian Distribution" (ICLR 2026) as a library and a CLI.
The library knows nothing of the CLI: ``from infogauss_cli import diagnose``.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["GaussianityMonitor", "__version__", "diagnose"]


def __getattr__(name: str) -> Any:  # lazy: keep `import infogauss_cli` cheap
    if name == "diagnose":
        from infogauss_cli.diagnostics import diagnose

        return diagnose
    if name == "GaussianityMonitor":
        from infogauss_cli.pipelines.monitor import GaussianityMonitor

        return GaussianityMonitor
    raise AttributeError(name)
