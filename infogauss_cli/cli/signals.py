"""Stopping signals while a command runs: SIGTERM (what a scheduler sends on pre-emption) is
handled like Ctrl-C, so the complete cache chunks are kept and the command says so and exits 3.
A second signal while that is being saved is noted, not obeyed (the save finishes); a third
stops at once (exit 3), keeping the chunks already written."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from typing import Any

_STOPPING = (signal.SIGINT, signal.SIGTERM)
_SECOND = b"\ninfogauss: still saving what was computed; send it again to stop at once\n"
_THIRD = b"error: stopped at once; the cache keeps the chunks already written (rerun to resume)\n"


class _Handler:
    """Counts stopping signals: the first raises KeyboardInterrupt, the second is noted, the
    third ends the process with exit 3."""

    def __init__(self) -> None:
        self.received: list[int] = []

    def __call__(self, signum: int, frame: Any) -> None:
        self.received.append(signum)
        if len(self.received) == 1:
            raise KeyboardInterrupt
        os.write(2, _SECOND if len(self.received) == 2 else _THIRD)
        if len(self.received) > 2:
            os._exit(3)

    @property
    def terminated(self) -> bool:
        """True when the first signal was SIGTERM (not Ctrl-C)."""
        return bool(self.received) and self.received[0] == signal.SIGTERM


@contextlib.contextmanager
def stopping_signals() -> Iterator[_Handler | None]:
    """Install the handler for the command's duration (main thread only; else None)."""
    if threading.current_thread() is not threading.main_thread():
        yield None
        return
    handler = _Handler()
    previous = {s: signal.signal(s, handler) for s in _STOPPING}
    try:
        yield handler
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def interrupted_message(message: str, handler: _Handler | None) -> str:
    """``message`` (an "interrupted ..." error) saying SIGTERM when that is what stopped it."""
    if handler is not None and handler.terminated and message.startswith("interrupted"):
        return "terminated (SIGTERM)" + message[len("interrupted") :]
    return message


INTERRUPTED = "interrupted; chunks already in the embedding cache are kept (rerun to resume)"
