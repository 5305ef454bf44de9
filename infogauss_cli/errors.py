"""Errors that map onto the CLI's exit codes (DESIGN.md).

Library code raises these; the CLI turns them into one line on stderr and an exit code.
"""

from __future__ import annotations


class InfogaussError(Exception):
    """Base class; ``exit_code`` is what the CLI exits with."""

    exit_code = 3


class BadInputError(InfogaussError, ValueError):
    """Bad usage, bad config or bad input: unknown model, malformed zoo, missing data,
    unreadable file, invalid embedding matrix (exit 2)."""

    exit_code = 2


class RunError(InfogaussError, RuntimeError):
    """The run itself failed: model could not be loaded, out of memory after back-off,
    interrupted (exit 3)."""

    exit_code = 3


def first_line(exc: BaseException, default: str | None = None) -> str:
    """The first line of ``str(exc)``; ``default`` (the exception's type name if None) when the
    message is empty."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else (type(exc).__name__ if default is None else default)


def more_names(names: object, limit: int = 5) -> str:
    """``a, b, c and 4 more`` for messages: the first ``limit`` of ``names``."""
    names = [str(n) for n in names]  # type: ignore[attr-defined]
    text = ", ".join(names[:limit])
    return text + (f" and {len(names) - limit} more" if len(names) > limit else "")
