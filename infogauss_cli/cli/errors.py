"""Turn library errors into one line on stderr and the exit codes of DESIGN.md."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from ..errors import InfogaussError

F = TypeVar("F", bound=Callable[..., Any])

_state = {"debug": False}


def set_debug(value: bool) -> None:
    _state["debug"] = value


def fail(message: str, code: int) -> typer.Exit:
    """Print ``error: message`` on stderr and return the Exit to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


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
            with bars(enabled=not _quiet(kwargs)):
                return func(*args, **kwargs)
        except (typer.Exit, typer.Abort, typer.BadParameter):
            raise  # typer reports these itself (usage errors exit 2)
        except InfogaussError as exc:
            if _state["debug"]:
                raise
            raise fail(str(exc), exc.exit_code) from None
        except KeyboardInterrupt:
            raise fail("interrupted", 3) from None
        except Exception as exc:
            if _state["debug"]:
                raise
            name = type(exc).__name__
            print(
                f"error: unexpected {name}: {exc} (rerun with --debug for the traceback)",
                file=sys.stderr,
            )
            raise typer.Exit(3) from None

    return wrapper  # type: ignore[return-value]
