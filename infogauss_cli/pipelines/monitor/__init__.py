"""Gaussianity during training (docs/training.md): :class:`GaussianityMonitor` for any loop
(``monitor(model, step)`` after each optimiser step), and adapters that import their framework,
so they are reached lazily: ``HFGaussianityCallback`` (``monitor.hf``, a transformers
``TrainerCallback``) and ``LightningGaussianityCallback`` (``monitor.lightning``)."""

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
