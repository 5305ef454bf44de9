"""Library errors as one line on stderr and their exit codes (docs/exit-codes.md), and standard
output under faults: a closed pipe (``| head``) ends the command quietly with 141 (128 + SIGPIPE,
as git and coreutils), a write to stdout that fails otherwise is an I/O error naming stdout."""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from typing import Any, TextIO, TypeVar

import typer
from rich.console import Console

from infogauss_cli.cli.signals import INTERRUPTED, interrupted_message, stopping_signals
from infogauss_cli.core.errors import InfogaussError, io_failure
from infogauss_cli.core.safe_text import printable, printable_lines

F = TypeVar("F", bound=Callable[..., object])
CLOSED_PIPE_EXIT = 141  # 128 + SIGPIPE
_state = {"debug": False}


class Stopped(BaseException):
    """Stands for the distributed ``Stopped`` in a process alone (never raised)."""


def finish(code: int, message: str = "") -> tuple[int, bool]:
    return code, True  # what distributed.finish returns without torchrun


def is_main() -> bool:
    return True


if "WORLD_SIZE" in os.environ:  # torchrun: the ranks agree (start-up: import it only then)
    from infogauss_cli.extract.distributed import Stopped, finish, is_main  # type: ignore[assignment]


def set_debug(value: bool) -> None:
    _state["debug"] = value


class _PipeConsole(Console):
    """A rich console whose closed pipe is a :class:`BrokenPipeError`, not ``exit(1)``."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError("stdout was closed")


def stdout_console(*, stderr: bool = False, width: int | None = None) -> Console:
    """A rich :class:`Console` for tables and listings."""
    return _PipeConsole(stderr=stderr, width=width)


def closed_stdout() -> int:
    """After a :class:`BrokenPipeError`: stdout to ``/dev/null`` (the flush at exit fails no
    more); the exit code of a closed pipe."""
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return CLOSED_PIPE_EXIT


@contextlib.contextmanager
def stdout_named() -> Iterator[None]:
    """A write error that names no file (the table or a ``-`` report) names stdout."""
    try:
        yield
    except BrokenPipeError:
        raise
    except OSError as exc:
        if exc.filename is not None:
            raise
        fix = "free space where stdout goes, or redirect stdout elsewhere"
        raise io_failure(exc, "stdout", "write to", fix=fix) from None


@contextlib.contextmanager
def library_warnings_silenced() -> Iterator[None]:
    """Only the tool's own warnings show (all with ``--debug``), control characters escaped."""
    with warnings.catch_warnings():
        warnings.showwarning = show_escaped
        if not _state["debug"]:
            warnings.filterwarnings("ignore")
            warnings.filterwarnings("default", module=r"infogauss_cli(\.|$)")
            warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from font")
        yield


def show_escaped(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """:func:`warnings.showwarning` without control characters."""
    text = warnings.formatwarning(printable(message), category, filename, lineno, line)
    out = file if file is not None else sys.stderr
    with contextlib.suppress(OSError, ValueError):  # stderr gone: nothing to show it on
        out.write("\n".join(printable(part) for part in text.rstrip("\n").split("\n")) + "\n")


def _quiet(kwargs: dict[str, object]) -> bool:
    """``--quiet`` as a parameter, or on an options object passed as one."""
    flags = [v for k, v in kwargs.items() if k == "quiet"]
    flags += [getattr(v, "quiet", False) for v in kwargs.values()]
    return any(f is True for f in flags)


def _outcome(exc: BaseException) -> tuple[int, str]:
    """The exit code and the one-line message of an error that ended a command (re-raised
    with ``--debug``)."""
    if isinstance(exc, BrokenPipeError):  # stdout closed early (`| head`): end quietly
        return closed_stdout(), ""
    if isinstance(exc, KeyboardInterrupt):
        return 3, INTERRUPTED
    if _state["debug"]:
        raise exc
    if isinstance(exc, InfogaussError):
        return exc.exit_code, str(exc)
    if isinstance(exc, OSError):  # a file-system failure nobody named: still path + fix
        failure = io_failure(exc, operation="access")
        return failure.exit_code, str(failure)
    name = type(exc).__name__
    return 3, f"unexpected {name}: {printable(exc)} (rerun with --debug for the traceback)"


def handle_errors(func: F) -> F:
    """Decorator for commands: InfogaussError -> its exit code, Ctrl-C -> 3, stdout closed ->
    141, anything else -> 3; a traceback only with ``--debug``. Under torchrun the ranks agree
    on one exit code and only rank 0 (or a rank with an error of its own) prints the error."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> object:
        from infogauss_cli.cli.progress import channel  # rich's progress bars

        result, code, message, signals = None, 0, "", None
        try:
            with (
                library_warnings_silenced(),
                stopping_signals() as signals,
                channel(quiet=_quiet(kwargs) or not is_main()),  # torchrun: rank 0 only
            ):
                result = func(*args, **kwargs)
        except (typer.Abort, typer.BadParameter):
            raise  # typer reports these itself (usage errors exit 2)
        except typer.Exit as exc:
            code = exc.exit_code
        except Stopped as stop:  # another rank ended the command: leave with its code
            raise typer.Exit(stop.code) from None  # type: ignore[attr-defined]
        except (Exception, KeyboardInterrupt) as exc:
            code, message = _outcome(exc)
        message = interrupted_message(message, signals)
        code, speak = finish(code, message)
        if message and speak:
            print(f"error: {printable_lines(message)}", file=sys.stderr)
        if code:
            raise typer.Exit(code)
        return result

    return wrapper  # type: ignore[return-value]
