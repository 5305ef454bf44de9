"""Turn library errors into one line on stderr and the exit codes of DESIGN.md."""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import typer

from infogauss_cli.cli.signals import INTERRUPTED, interrupted_message, stopping_signals
from infogauss_cli.core.errors import InfogaussError
from infogauss_cli.core.safe_text import printable, printable_lines

F = TypeVar("F", bound=Callable[..., Any])

_state = {"debug": False}


def set_debug(value: bool) -> None:
    _state["debug"] = value


@contextlib.contextmanager
def library_warnings_silenced() -> Iterator[None]:
    """Warnings raised inside libraries (numpy RuntimeWarnings, torch UserWarnings on legacy
    pickles, deprecations, matplotlib's missing glyphs for the control characters of a name) are
    not shown: what matters reaches the user as the tool's own error or note. The tool's own
    warnings, and everything with ``--debug``, still show, with control characters escaped."""
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
    file: Any = None,
    line: str | None = None,
) -> None:
    """:func:`warnings.showwarning` that never sends a control character (an ESC in a file name
    the warning quotes) to the terminal."""
    text = warnings.formatwarning(printable(message), category, filename, lineno, line)
    out = file if file is not None else sys.stderr
    with contextlib.suppress(OSError, ValueError):  # stderr gone: nothing to show it on
        out.write("\n".join(printable(part) for part in text.rstrip("\n").split("\n")) + "\n")


def _quiet(kwargs: dict[str, Any]) -> bool:
    """``--quiet`` as a parameter, or on an options object passed as one."""
    flags = [v for k, v in kwargs.items() if k == "quiet"]
    flags += [getattr(v, "quiet", False) for v in kwargs.values()]
    return any(f is True for f in flags)


class _Never(BaseException):
    """Stands for :class:`~infogauss_cli.extract.distributed.Stopped` in a process alone."""


def _alone(code: int, message: str = "") -> tuple[int, bool]:
    return code, True  # what distributed.finish returns without torchrun


def _true() -> bool:
    return True


def _outcome(exc: BaseException) -> tuple[int, str]:
    """The exit code and the one-line message of an error that ended a command (re-raised
    with ``--debug``)."""
    if isinstance(exc, BrokenPipeError):  # stdout closed early (`| head`): end quietly
        from infogauss_cli.cli.console import closed_stdout

        return closed_stdout(), ""
    if isinstance(exc, KeyboardInterrupt):
        return 3, INTERRUPTED
    if _state["debug"]:
        raise exc
    if isinstance(exc, InfogaussError):
        return exc.exit_code, str(exc)
    if isinstance(exc, OSError):  # a file-system failure nobody named: still path + fix
        from infogauss_cli.core.errors import io_failure

        failure = io_failure(exc, operation="access")
        return failure.exit_code, str(failure)
    name = type(exc).__name__
    return 3, f"unexpected {name}: {printable(exc)} (rerun with --debug for the traceback)"


def handle_errors(func: F) -> F:
    """Decorator for commands: InfogaussError -> its exit code (2 or 3), Ctrl-C -> 3, stdout
    closed (``| head``) -> 141 quietly, anything unexpected -> 3; a traceback only with
    ``--debug``. Under torchrun the ranks agree on one exit code and only rank 0 (or a rank
    with an error of its own) prints the error."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from infogauss_cli.cli.progress import channel

        if "WORLD_SIZE" in os.environ:  # torchrun: the ranks agree (start-up: import it only then)
            from infogauss_cli.extract.distributed import Stopped, finish, is_main
        else:
            Stopped, finish, is_main = _Never, _alone, _true

        result, code, message, signals = None, 0, "", None
        try:
            # torchrun: progress on rank 0 only
            with (
                library_warnings_silenced(),
                stopping_signals() as signals,
                channel(quiet=_quiet(kwargs) or not is_main()),
            ):
                result = func(*args, **kwargs)
        except (typer.Abort, typer.BadParameter):
            raise  # typer reports these itself (usage errors exit 2)
        except typer.Exit as exc:
            code = exc.exit_code
        except Stopped as stop:  # another rank ended the command: leave with its code
            raise typer.Exit(stop.code) from None
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
