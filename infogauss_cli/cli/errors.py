"""Errors as one line on stderr with their exit codes (docs/exit-codes.md); stdout under faults
(a closed pipe ends quietly with 141, as git does); SIGTERM handled like Ctrl-C; the renderer
of the library's progress channel (rich bars and notes on stderr)."""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, TextIO, TypeVar

import typer
from rich.console import Console

from infogauss_cli.core.errors import InfogaussError, io_failure
from infogauss_cli.core.progress import Advance, listening
from infogauss_cli.core.safe_text import printable, printable_lines

if TYPE_CHECKING:
    from rich.progress import Progress

F = TypeVar("F", bound=Callable[..., object])
_state = {"debug": False}
INTERRUPTED = "interrupted; chunks already in the embedding cache are kept (rerun to resume)"
_SECOND = b"\ninfogauss: still saving what was computed; send it again to stop at once\n"
_THIRD = b"error: stopped at once; the cache keeps the chunks already written (rerun to resume)\n"


class Stopped(BaseException):  # distributed's, in a process alone (never raised)
    pass


def finish(code: int, message: str = "") -> tuple[int, bool]:
    return code, True  # what distributed.finish returns without torchrun


def is_main() -> bool:
    return True


if "WORLD_SIZE" in os.environ:  # torchrun: the ranks agree (start-up: import it only then)
    from infogauss_cli.extract.distributed import Stopped, finish, is_main  # type: ignore[assignment]


def set_debug(value: bool) -> None:
    _state["debug"] = value


class StdoutConsole(Console):
    """A rich console for tables whose closed pipe is a :class:`BrokenPipeError`, not exit 1."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError("stdout was closed")


def terminal(to_stderr: bool = False) -> Console:
    """The console for tables (stderr when a report goes to stdout); 160 columns when piped."""
    console = StdoutConsole(stderr=to_stderr)
    if not (console.is_terminal or os.environ.get("COLUMNS", "").isdigit()):
        console.width = 160
    return console


def closed_stdout() -> int:
    """Stdout to ``/dev/null`` after a closed pipe (the flush at exit fails no more); 141."""
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 141  # 128 + SIGPIPE


@contextlib.contextmanager
def stdout_named() -> Iterator[None]:
    """A write error that names no file (the table or a ``-`` report) names stdout."""
    try:
        yield
    except OSError as exc:
        if exc.filename is not None or isinstance(exc, BrokenPipeError):
            raise
        fix = "free space where stdout goes, or redirect stdout elsewhere"
        raise io_failure(exc, "stdout", "write to", fix=fix) from None


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
    with contextlib.suppress(OSError, ValueError):  # stderr gone: nothing to show it on
        (file or sys.stderr).write(printable_lines(text.rstrip("\n")) + "\n")


def _outcome(exc: BaseException) -> tuple[int, str]:
    """The exit code and one-line message of an error that ended a command."""
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


@contextlib.contextmanager
def stopping_signals() -> Iterator[list[int] | None]:
    """SIGINT and SIGTERM (pre-emption) received while the command runs (main thread; else None):
    the first raises KeyboardInterrupt, the second is noted (the save ends), the third exits 3."""
    if threading.current_thread() is not threading.main_thread():
        yield None
        return
    received: list[int] = []

    def handler(signum: int, frame: object) -> None:
        received.append(signum)
        if len(received) == 1:
            raise KeyboardInterrupt
        os.write(2, _SECOND if len(received) == 2 else _THIRD)
        if len(received) > 2:
            os._exit(3)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def handle_errors(func: F) -> F:
    """Decorator for commands: errors to one line and an exit code (torchrun: the ranks agree on
    it; rank 0, or a rank with an error of its own, prints it); a traceback only with --debug."""

    @functools.wraps(func)
    def wrapper(*args: object, **kwargs: object) -> object:
        result, code, message, signals = None, 0, "", None
        quiet = kwargs.get("quiet") is True or not is_main()  # torchrun: rank 0 only
        try:
            with (
                warnings.catch_warnings(),
                stopping_signals() as signals,
                listening(RichChannel(Console(stderr=True, quiet=quiet))),
            ):
                warnings.showwarning = show_escaped  # control characters escaped
                if not _state["debug"]:  # only the tool's own warnings (all with --debug)
                    warnings.filterwarnings("ignore")
                    warnings.filterwarnings("default", module=r"infogauss_cli(\.|$)")
                    warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from font")
                result = func(*args, **kwargs)
        except (typer.Abort, typer.BadParameter):
            raise  # typer reports these itself (usage errors exit 2)
        except typer.Exit as exc:
            code = exc.exit_code
        except Stopped as stop:  # another rank ended the command: leave with its code
            raise typer.Exit(stop.code) from None  # type: ignore[attr-defined]
        except (Exception, KeyboardInterrupt) as exc:
            code, message = _outcome(exc)
        if message.startswith("interrupted") and signals and signal.SIGTERM in signals[:1]:
            message = message.replace("interrupted", "terminated (SIGTERM)", 1)
        code, speak = finish(code, message)
        if message and speak:
            print(f"error: {printable_lines(message)}", file=sys.stderr)
        if code:
            raise typer.Exit(code)
        return result

    return wrapper  # type: ignore[return-value]


class RichChannel:
    """Notes on ``console``; bars when it is a terminal (one rich Progress for nested steps);
    nothing at all on a quiet console (``--quiet``, torchrun ranks but the first)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.open = 0
        self.progress: Progress | None = None

    @contextlib.contextmanager
    def step(self, label: str, total: int | None, unit: str) -> Iterator[Advance]:
        if self.console.quiet or not self.console.is_terminal:
            yield lambda n=1, **fields: None
            return
        if self.open == 0:
            from rich import progress as p  # only when bars show: start-up time

            columns = [p.SpinnerColumn(), p.TextColumn("{task.description}"), p.BarColumn()]
            columns += [p.MofNCompleteColumn(), p.TextColumn("{task.fields[rate]}")]
            columns += [p.TimeElapsedColumn(), p.TimeRemainingColumn()]
            self.progress = p.Progress(*columns, console=self.console, transient=True)
            self.progress.start()
        self.open += 1
        bars = self.progress
        assert bars is not None
        task = bars.add_task(label, total=total, rate="")

        def advance(n: int = 1, **fields: object) -> None:
            bars.update(task, advance=n, **fields)
            speed = bars.tasks[task].speed if unit else None
            if speed:  # bytes ("B", the downloads) as MB/s
                rate = f"{speed / 1e6:,.1f} MB/s" if unit == "B" else f"{speed:,.1f} {unit}/s"
                bars.update(task, rate=rate)

        try:
            yield advance
        finally:
            bars.remove_task(task)
            self.open -= 1
            if self.open == 0:
                bars.stop()

    def note(self, text: str) -> None:
        # above the bars while they show (a line printed elsewhere leaves a frozen bar behind)
        target = self.progress.console if self.open and self.progress else self.console
        target.print(text, highlight=False)
