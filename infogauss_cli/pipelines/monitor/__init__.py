"""Gaussianity during training (docs/training.md): :class:`GaussianityMonitor` for any loop, and
the HF and Lightning ``GaussianityCallback`` adapters, imported lazily (they import their own)."""

from __future__ import annotations

from infogauss_cli.pipelines.monitor.core import GaussianityMonitor, MonitorResult, default_embed

__all__ = [
    "GaussianityMonitor",
    "HFGaussianityCallback",
    "LightningGaussianityCallback",
    "MonitorResult",
    "default_embed",
]


def __getattr__(name: str) -> type:
    if name == "HFGaussianityCallback":
        from infogauss_cli.pipelines.monitor.hf import GaussianityCallback  # transformers

        return GaussianityCallback
    if name == "LightningGaussianityCallback":
        from infogauss_cli.pipelines.monitor.lightning import GaussianityCallback as Callback

        return Callback
    raise AttributeError(name)
