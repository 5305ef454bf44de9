"""A bounded connectivity check: the name lookup (in a daemon thread abandoned at the deadline:
socket timeouts do not cover it), then an HTTP HEAD; proxies from the environment are honoured."""

from __future__ import annotations

import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request


def _target(url: str) -> tuple[str, int]:
    """The host and port to reach for ``url``: its own, or the proxy's that serves it."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(host):
        p = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        return p.hostname or host, p.port or 80
    return host, parts.port or (443 if parts.scheme == "https" else 80)


def unreachable_reason(url: str, timeout_s: float = 3.0) -> str | None:
    """None if ``url``'s server answers at all (any HTTP status) within ``timeout_s`` seconds,
    name lookup of the host (or of the proxy) included; else why not, in a few words."""
    host, port = _target(url)
    if not host:
        return f"no host in {url!r}"
    deadline = time.monotonic() + timeout_s
    result: list[object] = []

    def lookup() -> None:
        try:
            result.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except OSError as exc:
            result.append(exc)

    worker = threading.Thread(target=lookup, daemon=True)
    worker.start()
    worker.join(timeout_s)
    if not result:
        return f"name lookup of {host} gave no answer within {timeout_s:.0f} s"
    if isinstance(exc := result[0], OSError):
        return f"name lookup of {host} failed ({exc.strerror or exc})"
    if (left := deadline - time.monotonic()) <= 0:
        return f"{host} gave no answer within {timeout_s:.0f} s"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=left):
            return None
    except urllib.error.HTTPError:
        return None  # the server answered
    except urllib.error.URLError as exc:
        return str(getattr(exc.reason, "strerror", None) or exc.reason)
    except OSError as exc:
        return str(exc.strerror or exc or type(exc).__name__)
