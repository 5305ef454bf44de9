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
    anything unexpected -> 3; a traceback only with ``--debug``. Under torchrun the ranks agree
    on one exit code and only rank 0 (or a rank with an error of its own) prints the error."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from ..distributed import Stopped, finish, is_main
        from ..progress import bars

        result, code, message = None, 0, ""
        try:
            with bars(enabled=not _quiet(kwargs) and is_main()):  # torchrun: rank 0 only
                result = func(*args, **kwargs)
        except (typer.Abort, typer.BadParameter):
            raise  # typer reports these itself (usage errors exit 2)
        except typer.Exit as exc:
            code = exc.exit_code
        except Stopped as stop:  # another rank ended the command: leave with its code
            raise typer.Exit(stop.code) from None
        except InfogaussError as exc:
            if _state["debug"]:
                raise
            code, message = exc.exit_code, str(exc)
        except KeyboardInterrupt:
            code, message = 3, "interrupted"
        except Exception as exc:
            if _state["debug"]:
                raise
            name = type(exc).__name__
            code = 3
            message = f"unexpected {name}: {exc} (rerun with --debug for the traceback)"
        code, speak = finish(code, message)
        if message and speak:
            print(f"error: {message}", file=sys.stderr)
        if code:
            raise typer.Exit(code)
        return result

    return wrapper  # type: ignore[return-value]
