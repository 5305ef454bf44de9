"""One progress channel: library code marks long steps (:func:`steps`) and notes (:func:`note`);
a front end renders them through the :class:`Channel` it activates with :func:`listening`. With
none active, steps cost nothing and notes are ``infogauss`` log warnings."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from typing import Protocol, TypeVar

T = TypeVar("T")
Advance = Callable[..., None]
LOG = logging.getLogger("infogauss")


class Channel(Protocol):
    """Where progress events go: a step of ``total`` units (None: unknown) and messages."""

    def step(self, label: str, total: int | None, unit: str) -> AbstractContextManager[Advance]:
        """A context that yields ``advance(n=1)`` for the step's duration."""

    def note(self, text: str) -> None:
        """Show ``text`` (rich markup) to the user."""


_ACTIVE: ContextVar[Channel | None] = ContextVar("infogauss_channel", default=None)


@contextmanager
def listening(channel: Channel | None) -> Iterator[None]:
    """Send the events inside to ``channel`` (None: the default, see the module)."""
    token = _ACTIVE.set(channel)
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def note(text: str) -> None:
    """Tell the user ``text`` (rich markup): through the active channel, else a log warning."""
    active = _ACTIVE.get()
    if active is not None:
        active.note(text)
        return
    from rich.text import Text

    LOG.warning(Text.from_markup(text).plain)


@contextmanager
def steps(label: str, total: int | None = None, unit: str = "") -> Iterator[Advance]:
    """A long step of ``total`` ``unit`` (None: unknown, a spinner); yields ``advance(n=1)``."""
    active = _ACTIVE.get()
    if active is None:
        yield lambda *_, **__: None
        return
    with active.step(label, total, unit) as advance:
        yield advance


def track(items: Iterable[T], label: str, total: int | None = None) -> Iterator[T]:
    """Iterate ``items`` with a bar (``total`` from ``len(items)`` when it has one)."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with steps(label, total) as advance:
        for item in items:
            yield item
            advance()
