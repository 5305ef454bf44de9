"""Progress for long steps (training, bootstrap, report writing), off unless a caller turns it on.

Library code marks a long step with :func:`steps` and calls ``advance()`` as it goes; that is
a no-op unless :func:`bars` is active (the CLI activates it for every command, on stderr, only
when stderr is a terminal and not ``--quiet``). So the library prints nothing by itself and
tests, pipes and CI logs stay clean. Bars are transient: they vanish when their step ends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

T = TypeVar("T")
Advance = Callable[..., None]


def _noop(*_: Any, **__: Any) -> None:
    return None


class _Bars:
    """One rich Progress shared by nested steps; started with the first, stopped with the last."""

    def __init__(self, console: Console) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        self.open = 0

    @contextmanager
    def task(self, label: str, total: int | None) -> Iterator[Advance]:
        if self.open == 0:
            self.progress.start()
        self.open += 1
        task = self.progress.add_task(label, total=total)
        try:
            yield lambda n=1, **kw: self.progress.update(task, advance=n, **kw)
        finally:
            self.progress.remove_task(task)
            self.open -= 1
            if self.open == 0:
                self.progress.stop()


_ACTIVE: ContextVar[_Bars | None] = ContextVar("infogauss_progress", default=None)


@contextmanager
def bars(console: Console | None = None, *, enabled: bool = True) -> Iterator[None]:
    """Show progress bars for the :func:`steps` inside, on ``console`` (default: stderr),
    when ``enabled`` and the console is a terminal."""
    if not enabled:
        yield
        return
    from rich.console import Console

    console = console or Console(stderr=True)
    if not console.is_terminal:
        yield
        return
    token = _ACTIVE.set(_Bars(console))
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def note(text: str, console: Console) -> None:
    """Print ``text`` (rich markup) above the bars while they show, through their own console
    (a line printed on another console leaves a frozen copy of the bar behind), else on
    ``console``."""
    active = _ACTIVE.get()
    target = active.progress.console if active is not None and active.open else console
    target.print(text, highlight=False)


@contextmanager
def steps(label: str, total: int | None = None) -> Iterator[Advance]:
    """A long step of ``total`` units (None: unknown, a spinner); yields ``advance(n=1)``."""
    active = _ACTIVE.get()
    if active is None:
        yield _noop
        return
    with active.task(label, total) as advance:
        yield advance


def track(items: Iterable[T], label: str, total: int | None = None) -> Iterator[T]:
    """Iterate ``items`` with a bar (``total`` from ``len(items)`` when it has one)."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with steps(label, total) as advance:
        for item in items:
            yield item
            advance()
