"""Errors that map onto the CLI's exit codes (docs/exit-codes.md): library code raises them, the
CLI prints one line and exits with the code."""

from __future__ import annotations

import errno
from collections.abc import Iterable


class InfogaussError(Exception):
    """Base class; ``exit_code`` is what the CLI exits with."""

    exit_code = 3


class BadInputError(InfogaussError, ValueError):
    """Bad usage, config or input: unknown model, missing data, unreadable file (exit 2)."""

    exit_code = 2


class RunError(InfogaussError, RuntimeError):
    """The run itself failed: a model did not load, out of memory, interrupted (exit 3)."""

    exit_code = 3


def first_line(exc: BaseException, default: str | None = None) -> str:
    """The first line of ``str(exc)``, else ``default`` (None: the exception's type name)."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else (type(exc).__name__ if default is None else default)


def more_names(names: Iterable[object], limit: int = 5) -> str:
    """``a, b, c and 4 more`` for messages: the first ``limit`` of ``names``."""
    shown = [str(n) for n in names]
    more = f" and {len(shown) - limit} more" if len(shown) > limit else ""
    return ", ".join(shown[:limit]) + more


class IOFailure(InfogaussError):
    """A file-system operation failed: names the path, the operation and the fix. Exit 2 when
    the user can fix it by choosing another path (read-only, permission, a folder where a file
    is meant), 3 when the machine failed (disk full, I/O error)."""

    def __init__(self, path: object, operation: str, problem: str, fix: str, exit_code: int):
        self.path, self.operation, self.problem, self.fix = str(path), operation, problem, fix
        self.exit_code = exit_code
        super().__init__(f"cannot {operation} {self.path}: {problem}; {fix}")


# errno names -> the problem: the user's to fix (exit 2 for a path they named), the machine's (3)
_USER_FIXABLE = {
    "EROFS": "read-only file system",
    "EACCES": "permission denied",
    "EPERM": "operation not permitted",
    "EISDIR": "it is a folder, not a file",
    "ENOTDIR": "a part of the path is a file, not a folder",
    "ENOENT": "no such file or folder",
    "ENAMETOOLONG": "the name is too long",
    "EEXIST": "it already exists",
}
_MACHINE = {"ENOSPC": "no space left on the device", "EDQUOT": "disk quota exceeded"}


def io_failure(
    exc: OSError,
    path: object = None,
    operation: str = "write",
    *,
    fix: str | None = None,
    user_path: bool = True,
) -> IOFailure:
    """An :class:`OSError` as an :class:`IOFailure` (by default its path, advice by errno)."""
    name = errno.errorcode.get(exc.errno or 0, "")
    target = path if path is not None else (exc.filename or "(unknown path)")
    if name in _USER_FIXABLE:
        problem, code, advice = _USER_FIXABLE[name], 2 if user_path else 3, "choose a writable path"
    elif name in _MACHINE:
        problem, code, advice = _MACHINE[name], 3, "free space there, or choose another disk"
    else:
        problem = exc.strerror or type(exc).__name__
        code, advice = 3, "check the disk and the path, then rerun"
    return IOFailure(target, operation, problem, fix or advice, code)
