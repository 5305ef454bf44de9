"""Turn library errors into one line on stderr and the exit codes of DESIGN.md."""

from __future__ import annotations

import contextlib
import functools
import sys
import warnings
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import typer

from ..errors import InfogaussError
from ..safe_text import printable

F = TypeVar("F", bound=Callable[..., Any])

_state = {"debug": False}


def set_debug(value: bool) -> None:
    _state["debug"] = value


def fail(message: str, code: int) -> typer.Exit:
    """Print ``error: message`` on stderr and return the Exit to raise."""
    typer.echo(f"error: {printable(message)}", err=True)
    return typer.Exit(code)


@contextlib.contextmanager
def library_warnings_silenced() -> Iterator[None]:
    """Warnings raised inside libraries (numpy RuntimeWarnings, torch UserWarnings on legacy
    pickles, deprecations) are not shown: what matters reaches the user as the tool's own
    error or note. The tool's own warnings, and everything with ``--debug``, still show."""
    if _state["debug"]:
        yield
        return
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore")
        warnings.filterwarnings("default", module=r"infogauss_cli(\.|$)")
        yield


def _quiet(kwargs: dict[str, Any]) -> bool:
    """``--quiet`` as a parameter, or on an options object passed as one."""
    flags = [v for k, v in kwargs.items() if k == "quiet"]
    flags += [getattr(v, "quiet", False) for v in kwargs.values()]
    return any(f is True for f in flags)


def handle_errors(func: F) -> F:
    """Decorator for commands: InfogaussError -> its exit code (2 or 3), Ctrl-C -> 3,
    anything unexpected -> 3; a traceback only with ``--debug``."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from ..progress import bars

        try:
            with library_warnings_silenced(), bars(enabled=not _quiet(kwargs)):
                return func(*args, **kwargs)
        except (typer.Exit, typer.Abort, typer.BadParameter):
            raise  # typer reports these itself (usage errors exit 2)
        except InfogaussError as exc:
            if _state["debug"]:
                raise
            raise fail(str(exc), exc.exit_code) from None
        except OSError as exc:  # a file-system failure nobody named: still path + fix
            if _state["debug"]:
                raise
            from ..errors import io_failure

            failure = io_failure(exc, operation="access")
            raise fail(str(failure), failure.exit_code) from None
        except KeyboardInterrupt:
            raise fail("interrupted", 3) from None
        except Exception as exc:
            if _state["debug"]:
                raise
            name = type(exc).__name__
            print(
                f"error: unexpected {name}: {printable(exc)} (rerun with --debug for the "
                "traceback)",
                file=sys.stderr,
            )
            raise typer.Exit(3) from None

    return wrapper  # type: ignore[return-value]
