"""Standard output under faults: a closed pipe ends the command quietly, a full disk is named.

``infogauss zoo list | head -1`` closes the pipe early: rich's default (exit 1) would read as a
failed gate, so the consoles of this package raise :class:`BrokenPipeError` instead, and
:func:`closed_stdout` ends the process with 141 (128 + SIGPIPE, what ``git`` and coreutils
give), printing nothing. A write to stdout that fails otherwise (``> /dev/full``) is an
:class:`~infogauss_cli.core.errors.IOFailure` that says stdout.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

from rich.console import Console

CLOSED_PIPE_EXIT = 141  # 128 + SIGPIPE


class _PipeConsole(Console):
    """A rich console whose closed pipe is a :class:`BrokenPipeError`, not ``exit(1)``."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError("stdout was closed")


def stdout_console(**options: Any) -> Console:
    """A rich :class:`Console` (same ``options``) for tables and listings."""
    return _PipeConsole(**options)


def closed_stdout() -> int:
    """After a :class:`BrokenPipeError`: point stdout at ``/dev/null`` (so the flush at exit
    fails no more) and return the exit code of a closed pipe."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return CLOSED_PIPE_EXIT


@contextlib.contextmanager
def stdout_named() -> Iterator[None]:
    """A write error that names no file (the table or a ``-`` report going to stdout) is an
    :class:`IOFailure` naming stdout."""
    try:
        yield
    except BrokenPipeError:
        raise
    except OSError as exc:
        if exc.filename is not None:
            raise
        from infogauss_cli.core.errors import io_failure

        fix = "free space where stdout goes, or redirect stdout elsewhere"
        failure = io_failure(exc, "stdout", "write to", fix=fix)
        raise failure from None
