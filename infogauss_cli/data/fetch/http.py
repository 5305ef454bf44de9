"""HTTP: reachability in seconds, resumable downloads, progress reporting."""

from __future__ import annotations

import concurrent.futures
import contextlib
import http.client
import os
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infogauss_cli.core.errors import RunError
from infogauss_cli.data.fetch.manifest import CHUNK_BYTES, CONNECT_TIMEOUT_S, READ_TIMEOUT_S

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console


def human(n: int | None) -> str:
    if n is None:
        return "? bytes"
    size = float(n)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{n} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} bytes"  # pragma: no cover


class Reporter:
    """Messages and progress bars on a rich console; silent without one."""

    def __init__(self, console: Console | None, progress: bool) -> None:
        self.console = console
        self.enabled = bool(progress and console is not None and console.is_terminal)
        self.notes: list[str] = []

    def say(self, message: str) -> None:
        self.notes.append(message)
        if self.console is not None:
            self.console.print(message, highlight=False)

    @contextlib.contextmanager
    def bar(self, label: str, total: int | None, completed: int = 0) -> Iterator[Any]:
        """Yields ``advance(n)``; a byte progress bar when enabled."""
        if not self.enabled:
            yield lambda n: None
            return
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=self.console,
        )
        with progress:
            task = progress.add_task(label, total=total, completed=completed)
            yield lambda n: progress.advance(task, n)

    @contextlib.contextmanager
    def count_bar(self, label: str, total: int) -> Iterator[Any]:
        if not self.enabled:
            yield lambda n: None
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=self.console,
        )
        with progress:
            task = progress.add_task(label, total=total)
            yield lambda n: progress.advance(task, n)


# ---- network -----------------------------------------------------------------------------------
def unreachable(host: str, reason: Any, filenames: list[str]) -> RunError:
    files = " and ".join(filenames) or "the archives"
    return RunError(
        f"cannot reach {host} ({reason}): this machine looks offline, or the host is down. "
        f"Fetch on a machine with network and copy the data folder over, or pass --mirror URL "
        f"(an HTTP mirror, or a local folder holding {files})"
    )


def check_reachable(
    url: str, timeout_s: float = CONNECT_TIMEOUT_S, filenames: tuple[str, ...] = ()
) -> None:
    """Resolve and connect to ``url``'s host within ``timeout_s`` (DNS included, which socket
    timeouts do not cover); RunError "cannot reach ..." otherwise."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)

    def connect() -> None:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    future = pool.submit(connect)
    try:
        future.result(timeout=timeout_s + 1.0)
    except concurrent.futures.TimeoutError:
        reason = f"no answer within {timeout_s:.0f} s"
        raise unreachable(host, reason, list(filenames)) from None
    except OSError as exc:
        raise unreachable(host, exc.strerror or exc, list(filenames)) from None
    finally:
        pool.shutdown(wait=False)


def _set_read_timeout(resp: Any, timeout_s: float) -> None:
    """urllib uses one timeout for connect and reads; give reads a longer one."""
    sock = getattr(getattr(getattr(resp, "fp", None), "raw", None), "_sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.settimeout(timeout_s)


_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")


def _response_span(
    resp: Any, url: str, dest: Path, have: int, size: int | None, advance: Callable, say: Callable
) -> tuple[int, int | None, str]:
    """(first byte the response carries, total size or None, file mode) of a response to a
    request from byte ``have``; RunError for a wrong range or size."""
    host = urllib.parse.urlsplit(url).hostname or url
    if have and resp.status == 206:
        m = _CONTENT_RANGE.match(resp.headers.get("Content-Range", ""))
        if not m or int(m[1]) != have:
            raise RunError(
                f"downloading {url}: the server answered the wrong range "
                f"({resp.headers.get('Content-Range')!r} for bytes={have}-)"
            )
        start, total, mode = have, None if m[3] == "*" else int(m[3]), "ab"
        say(f"resuming {dest.name} at {human(have)}")
    else:  # a whole file (the server ignored Range, or there was nothing to resume)
        if have:
            say(f"{host} does not resume downloads; restarting {dest.name}")
            advance(-have)
        length = resp.headers.get("Content-Length")
        start, total, mode = 0, int(length) if length and length.isdigit() else size, "wb"
    if size is not None and total is not None and total != size:
        raise RunError(
            f"downloading {url}: the server has {total} bytes, expected {size}; "
            "is this the right file (check --mirror)?"
        )
    return start, total, mode


def _receive(
    resp: Any, part: Path, mode: str, read_timeout_s: float, advance: Callable
) -> tuple[int, BaseException | None]:
    """Append (``ab``) or write (``wb``) the response body to ``part``: (bytes, error or None)."""
    _set_read_timeout(resp, read_timeout_s)
    progressed = 0
    try:
        with open(part, mode) as f:
            while chunk := resp.read(CHUNK_BYTES):
                f.write(chunk)
                progressed += len(chunk)
                advance(len(chunk))
    except (OSError, http.client.HTTPException) as exc:
        return progressed, exc
    return progressed, None


def _have(part: Path, size: int | None, advance: Callable) -> int:
    """Bytes of ``part`` that can be resumed (a longer file is not a prefix: deleted)."""
    have = part.stat().st_size if part.exists() else 0
    if size is not None and have > size:
        part.unlink()
        advance(-have)
        have = 0
    return have


def download(
    url: str,
    dest: Path,
    *,
    size: int | None = None,
    retries: int = 5,
    backoff_s: float = 1.0,
    timeout_s: float = CONNECT_TIMEOUT_S,
    read_timeout_s: float = READ_TIMEOUT_S,
    advance: Callable[[int], None] | None = None,
    say: Callable[[str], None] | None = None,
) -> int:
    """Download ``url`` to ``dest`` through ``dest.part``, resuming a partial file with an HTTP
    Range request; returns the bytes fetched in this call. A dropped connection is retried
    (with Range) up to ``retries`` times in a row without progress; a failure leaves the
    ``.part`` file for the next call. The caller verifies the content (md5)."""
    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    part.parent.mkdir(parents=True, exist_ok=True)
    host = urllib.parse.urlsplit(url).hostname or url
    advance = advance or (lambda n: None)
    say = say or (lambda m: None)
    fetched, failures, answered = 0, 0, False
    while True:
        have = _have(part, size, advance)
        if size is not None and have == size:
            break
        headers = {"User-Agent": "infogauss", "Accept-Encoding": "identity"}
        if have:
            headers["Range"] = f"bytes={have}-"
        error: BaseException | None = None
        try:
            resp = urllib.request.urlopen(
                urllib.request.Request(url, headers=headers), timeout=timeout_s
            )
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and have:  # nothing after `have`: the part is the whole file
                break
            raise RunError(f"downloading {url}: HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            if not answered:  # never got an answer in this call: fail fast, no retries
                raise unreachable(host, getattr(exc, "reason", exc), [dest.name]) from None
            error = exc
        else:
            answered = True
            with resp:
                start, total, mode = _response_span(resp, url, dest, have, size, advance, say)
                progressed, error = _receive(resp, part, mode, read_timeout_s, advance)
            fetched += progressed
            failures = 0 if progressed else failures
            got = start + progressed
            if error is None and total is not None and got < total:
                error = ConnectionError(f"connection closed at {got} of {total} bytes")
            if error is None:
                break
        failures += 1
        if failures > retries:
            kept = part.stat().st_size if part.exists() else 0
            raise RunError(
                f"download of {dest.name} from {host} failed ({error}); {human(kept)} kept in "
                f"{part}: rerun the same command to resume"
            ) from None
        say(f"{dest.name}: {error}; retrying ({failures}/{retries})")
        time.sleep(backoff_s * 2 ** (failures - 1))
    os.replace(part, dest)
    return fetched
