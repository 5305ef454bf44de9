"""One progress channel: the library emits events, the front end renders them.

Library code marks a long step with :func:`steps` (it yields ``advance(n=1)``) and reports a
message with :func:`note`. Both go to the :class:`Channel` that a front end activates with
:func:`listening` (the CLI renders rich bars on stderr, see ``cli/errors.py``). With none
active, steps cost nothing and notes go to the ``infogauss`` logger, so the library prints
nothing by itself and a program that embeds it sees notes as log warnings.
"""

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
