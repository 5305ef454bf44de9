"""A bounded connectivity check: name lookup, then an HTTP HEAD, within one deadline.

Socket timeouts do not cover the name lookup (``getaddrinfo`` can block for 20-50 s on a
machine without network), so the lookup runs in a daemon thread that is abandoned at the
deadline. Proxies from the environment are honoured: with one set, the proxy is checked.
"""

from __future__ import annotations

import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

DEFAULT_TIMEOUT_S = 3.0


def _target(url: str) -> tuple[str, int]:
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(host):
        p = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        return p.hostname or host, p.port or 80
    return host, port


def unreachable_reason(url: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> str | None:
    """None if ``url``'s server answers at all (any HTTP status) within ``timeout_s`` seconds,
    name lookup of the host (or of the proxy) included; else why not, in a few words."""
    host, port = _target(url)
    if not host:
        return f"no host in {url!r}"
    deadline = time.monotonic() + timeout_s
    result: dict[str, object] = {}

    def lookup() -> None:
        try:
            result["addrs"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            result["error"] = exc

    worker = threading.Thread(target=lookup, daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        return f"name lookup of {host} gave no answer within {timeout_s:.0f} s"
    if "error" in result:
        exc = result["error"]
        return f"name lookup of {host} failed ({getattr(exc, 'strerror', None) or exc})"
    left = deadline - time.monotonic()
    if left <= 0:
        return f"{host} gave no answer within {timeout_s:.0f} s"
    request = urllib.request.Request(url, method="HEAD")
    try:
        with urllib.request.urlopen(request, timeout=left):
            return None
    except urllib.error.HTTPError:
        return None  # the server answered
    except urllib.error.URLError as exc:
        reason = exc.reason
        return str(getattr(reason, "strerror", None) or reason)
    except (TimeoutError, OSError) as exc:
        return str(getattr(exc, "strerror", None) or exc or type(exc).__name__)
