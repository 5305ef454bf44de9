"""A Hugging Face ``transformers.TrainerCallback`` around :class:`GaussianityMonitor`.

Importing this module imports transformers. The metrics go through ``Trainer.log`` (so they
reach ``state.log_history`` and every reporting integration: TensorBoard, W&B, ...) when the
callback knows its trainer: build it with :meth:`GaussianityCallback.attach`, or pass
``trainer=``. Without a trainer they are appended to ``state.log_history`` only.
"""

from __future__ import annotations

from typing import Any

from transformers import TrainerCallback

from infogauss_cli.pipelines.monitor.core import GaussianityMonitor


class GaussianityCallback(TrainerCallback):
    """Run ``monitor`` at ``state.global_step`` multiples of ``monitor.every`` (and before the
    first step when ``at_start``), on the main process only, with the trainer's model."""

    def __init__(
        self, monitor: GaussianityMonitor, *, trainer: Any = None, at_start: bool = True
    ) -> None:
        self.monitor = monitor
        self.trainer = trainer
        self.at_start = at_start

    @classmethod
    def attach(cls, trainer: Any, monitor: GaussianityMonitor, **kw: Any) -> GaussianityCallback:
        """Create the callback for ``trainer`` and add it to the trainer's callbacks."""
        cb = cls(monitor, trainer=trainer, **kw)
        trainer.add_callback(cb)
        return cb

    def _run(self, state: Any, model: Any) -> None:
        if model is None or not state.is_world_process_zero:
            return
        step = int(state.global_step)
        if not self.monitor.due(step):
            return
        logs = self.monitor.measure(model, step).logged(self.monitor.prefix)
        if self.trainer is not None:
            self.trainer.log(dict(logs))
        else:
            state.log_history.append({**logs, "step": step})

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.at_start:
            self._run(state, kwargs.get("model"))

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._run(state, kwargs.get("model"))
