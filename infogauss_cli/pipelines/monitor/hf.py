"""A transformers ``TrainerCallback`` around :class:`GaussianityMonitor`: with its trainer the
metrics go through ``Trainer.log`` (every reporting integration), else ``state.log_history``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from transformers import TrainerCallback

from infogauss_cli.pipelines.monitor import GaussianityMonitor

if TYPE_CHECKING:
    from torch import nn
    from transformers import Trainer
    from transformers import TrainerControl as Control
    from transformers import TrainerState as State
    from transformers import TrainingArguments as Args


class GaussianityCallback(TrainerCallback):
    """Run ``monitor`` when due (and at the start if ``at_start``) on the main process."""

    def __init__(
        self, monitor: GaussianityMonitor, *, trainer: Trainer | None = None, at_start: bool = True
    ) -> None:
        self.monitor, self.trainer, self.at_start = monitor, trainer, at_start

    @classmethod
    def attach(
        cls, trainer: Trainer, monitor: GaussianityMonitor, *, at_start: bool = True
    ) -> GaussianityCallback:
        cb = cls(monitor, trainer=trainer, at_start=at_start)
        trainer.add_callback(cb)
        return cb

    def _run(self, state: State, model: nn.Module | None) -> None:
        step = int(state.global_step)
        if model is None or not state.is_world_process_zero or not self.monitor.due(step):
            return
        logs = self.monitor.measure(model, step).logged(self.monitor.prefix)
        if self.trainer is not None:
            self.trainer.log(dict(logs))
        else:
            state.log_history.append({**logs, "step": step})

    def on_train_begin(self, args: Args, state: State, control: Control, **kw: object) -> None:
        if self.at_start:
            self._run(state, kw.get("model"))  # type: ignore[arg-type]

    def on_step_end(self, args: Args, state: State, control: Control, **kw: object) -> None:
        self._run(state, kw.get("model"))  # type: ignore[arg-type]
