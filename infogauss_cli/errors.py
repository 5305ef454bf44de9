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
