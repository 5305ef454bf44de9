"""Gaussianity during training: :class:`GaussianityMonitor` (any loop) and thin adapters.

- :class:`GaussianityMonitor`: call ``monitor(model, step)`` after each optimiser step.
- :class:`~infogauss_cli.pipelines.monitor.hf.GaussianityCallback`: a
  ``transformers.TrainerCallback``.
- :class:`~infogauss_cli.pipelines.monitor.lightning.GaussianityCallback`: a Lightning ``Callback``
  (``pip install 'infogauss[train]'``).

The adapters import their framework, so they are reached lazily: ``HFGaussianityCallback`` and
``LightningGaussianityCallback`` here, or their modules directly. docs/training.md has examples.
"""

from __future__ import annotations

from typing import Any

from infogauss_cli.pipelines.monitor.core import GaussianityMonitor, MonitorResult, default_embed

__all__ = [
    "GaussianityMonitor",
    "HFGaussianityCallback",
    "LightningGaussianityCallback",
    "MonitorResult",
    "default_embed",
]


def __getattr__(name: str) -> Any:  # the adapters import transformers / lightning
    if name == "HFGaussianityCallback":
        from infogauss_cli.pipelines.monitor.hf import GaussianityCallback

        return GaussianityCallback
    if name == "LightningGaussianityCallback":
        from infogauss_cli.pipelines.monitor.lightning import GaussianityCallback

        return GaussianityCallback
    raise AttributeError(name)
