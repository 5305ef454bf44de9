"""The CLI's renderer of the library's progress channel: rich bars and notes on stderr."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from rich.console import Console

from infogauss_cli.core.progress import Advance

if TYPE_CHECKING:
    from rich.progress import Progress


def _noop(n: int = 1, **fields: object) -> None:
    return None


class RichChannel:
    """Notes on ``console``; bars when it is a terminal (one rich Progress for nested steps);
    nothing at all on a quiet console (``--quiet``, torchrun ranks but the first)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.open = 0
        self.progress: Progress | None = None

    @contextmanager
    def step(self, label: str, total: int | None, unit: str) -> Iterator[Advance]:
        if self.console.quiet or not self.console.is_terminal:
            yield _noop
            return
        if self.open == 0:
            from rich import progress as p  # only when bars show: start-up time

            columns = [p.SpinnerColumn(), p.TextColumn("{task.description}"), p.BarColumn()]
            columns += [p.MofNCompleteColumn(), p.TextColumn("{task.fields[rate]}")]
            columns += [p.TimeElapsedColumn(), p.TimeRemainingColumn()]
            self.progress = p.Progress(*columns, console=self.console, transient=True)
            self.progress.start()
        self.open += 1
        bars = self.progress
        assert bars is not None
        task = bars.add_task(label, total=total, rate="")

        def advance(n: int = 1, **fields: object) -> None:
            bars.update(task, advance=n, **fields)
            speed = bars.tasks[task].speed if unit else None
            if speed:  # bytes ("B", the downloads) as MB/s
                rate = f"{speed / 1e6:,.1f} MB/s" if unit == "B" else f"{speed:,.1f} {unit}/s"
                bars.update(task, rate=rate)

        try:
            yield advance
        finally:
            bars.remove_task(task)
            self.open -= 1
            if self.open == 0:
                bars.stop()

    def note(self, text: str) -> None:
        # above the bars while they show (a line printed elsewhere leaves a frozen bar behind)
        target = self.progress.console if self.open and self.progress else self.console
        target.print(text, highlight=False)
