"""HTTP: reachability within seconds, and resumable downloads (``Range``) with retries."""

from __future__ import annotations

import http.client
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from infogauss_cli.core.errors import RunError
from infogauss_cli.core.netcheck import unreachable_reason
from infogauss_cli.core.progress import note, steps

CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class Network:
    """Retries in a row without progress, back-off (doubling), timeout of a connect or read."""

    retries: int = 5
    backoff_s: float = 1.0
    timeout_s: float = 10.0


def human(n: int | None) -> str:
    """``n`` bytes in GB, MB or KB (``?`` when unknown)."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n is not None and n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{'?' if n is None else n} bytes"


def check_reachable(url: str, timeout_s: float, filenames: tuple[str, ...]) -> None:
    """RunError unless ``url``'s server answers within ``timeout_s`` (name lookup included)."""
    if (why := unreachable_reason(url, timeout_s)) is not None:
        raise RunError(
            f"cannot reach {urllib.parse.urlsplit(url).hostname or url} ({why}): this machine "
            "looks offline, or the host is down. Fetch on a machine with network and copy the "
            "data folder over, or pass --mirror URL (an HTTP mirror, or a local folder holding "
            f"{' and '.join(filenames)})"
        )


def _span(
    resp: http.client.HTTPResponse, url: str, have: int, size: int | None
) -> tuple[int, int | None]:
    """(first byte of the body, total size or None) of the answer to a request from ``have``
    (a wrong range is caught by the checksum)."""
    if have and resp.status == 206:  # Content-Range: bytes START-END/TOTAL
        start, total = have, resp.headers.get("Content-Range", "").rpartition("/")[2]
    else:  # a whole file (the server ignored Range, or there was nothing to resume)
        start, total = 0, resp.headers.get("Content-Length", "")
    known = int(total) if total.isdigit() else None if start else size
    if size is not None and known is not None and known != size:
        raise RunError(
            f"downloading {url}: the server has {known} bytes, expected {size}; "
            "is this the right file (check --mirror)?"
        )
    return start, known


def download(url: str, dest: Path, size: int | None = None, net: Network = Network()) -> int:
    """Download ``url`` to ``dest`` through ``dest.part`` (resumed with ``Range``; kept on failure),
    retrying up to ``net.retries`` times in a row without progress; returns the bytes fetched."""
    part = dest.with_name(dest.name + ".part")
    part.parent.mkdir(parents=True, exist_ok=True)
    host = urllib.parse.urlsplit(url).hostname or url
    fetched = failures = 0
    with steps(dest.name, size, "B") as advance:
        advance(part.stat().st_size if part.exists() else 0)
        while True:
            have = part.stat().st_size if part.exists() else 0
            if size is not None and have > size:  # longer than the file: not a prefix of it
                part.unlink()
                advance(-have)
                have = 0
            if have == size:
                break
            headers = {"User-Agent": "infogauss", "Accept-Encoding": "identity"}
            if have:
                headers["Range"] = f"bytes={have}-"
            try:
                request = urllib.request.Request(url, headers=headers)
                with urllib.request.urlopen(request, timeout=net.timeout_s) as resp:
                    start, total = _span(resp, url, have, size)
                    if start:
                        note(f"resuming {dest.name} at {human(have)}")
                    elif have:
                        note(f"{host} does not resume downloads; restarting {dest.name}")
                        advance(-have)
                    with open(part, "ab" if start else "wb") as f:
                        while chunk := resp.read(CHUNK_BYTES):
                            f.write(chunk)
                            fetched += len(chunk)
                            failures = 0  # progress: the retries count from here
                            advance(len(chunk))
                if total is None or (end := part.stat().st_size) >= total:
                    break
                error: BaseException = ConnectionError(
                    f"connection closed at {end} of {total} bytes"
                )
            except urllib.error.HTTPError as exc:
                if exc.code == 416 and have:  # nothing after `have`: the part is the whole file
                    break
                raise RunError(f"downloading {url}: HTTP {exc.code} {exc.reason}") from None
            except (OSError, http.client.HTTPException) as exc:
                error = exc
            failures += 1
            if failures > net.retries:
                kept = part.stat().st_size if part.exists() else 0
                raise RunError(
                    f"download of {dest.name} from {host} failed ({error}); {human(kept)} kept "
                    f"in {part}: rerun the same command to resume"
                ) from None
            note(f"{dest.name}: {error}; retrying ({failures}/{net.retries})")
            time.sleep(net.backoff_s * 2 ** (failures - 1))
    os.replace(part, dest)
    return fetched
