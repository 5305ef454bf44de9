"""A Lightning ``Callback`` around :class:`GaussianityMonitor`: the metrics go to every logger at
``trainer.global_step`` (not thinned by ``log_every_n_steps``) and ``callback_metrics``."""

from __future__ import annotations

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.pipelines.monitor import GaussianityMonitor

try:
    import torch
    from lightning.pytorch import Callback, LightningModule, Trainer
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise BadInputError(
        "the Lightning adapter needs the lightning package: pip install 'infogauss[train]'"
    ) from exc


class GaussianityCallback(Callback):
    """Run ``monitor`` on the module when due (and at the start if ``at_start``) on rank 0."""

    def __init__(self, monitor: GaussianityMonitor, *, at_start: bool = True) -> None:
        self.monitor, self.at_start = monitor, at_start

    def _run(self, trainer: Trainer, pl_module: LightningModule) -> None:
        step = int(trainer.global_step)
        if not trainer.is_global_zero or not self.monitor.due(step):
            return
        logs = self.monitor.measure(pl_module, step).logged(self.monitor.prefix)
        for logger in trainer.loggers:
            logger.log_metrics(logs, step=step)
        trainer.callback_metrics.update({k: torch.tensor(v) for k, v in logs.items()})

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self.at_start:
            self._run(trainer, pl_module)

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, *_: object) -> None:
        self._run(trainer, pl_module)
