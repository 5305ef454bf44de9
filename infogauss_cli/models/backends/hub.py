"""Hub access that fails fast and says what to do.

Offline, timm, open_clip and transformers retry a hub download for 23-50 s before they fail
(FACTS.md). The backends therefore never let a library reach the hub itself: they ask here for
the files (:func:`hub_file`, :func:`hub_snapshot`) and hand the library local paths. Here:

1. files already in the local Hugging Face cache are used with no network access at all;
2. otherwise, if ``HF_HUB_OFFLINE`` is set, or the endpoint (``HF_ENDPOINT``, default
   https://huggingface.co) does not answer within :data:`PROBE_TIMEOUT_S`, one
   :class:`RunError` says which model needed which file and how to use local weights;
3. otherwise the file downloads with huggingface_hub's progress bars.

:func:`translate_hub_errors` wraps library calls that may still reach a hub on their own and
turns their offline failures into the same message.
"""

from __future__ import annotations

import contextlib
import os
import urllib.parse
from collections.abc import Iterator, Sequence
from pathlib import Path

from infogauss_cli.core.errors import RunError
from infogauss_cli.models.schema import on_the_fly_prefix

PROBE_TIMEOUT_S = 3.0
DEFAULT_ENDPOINT = "https://huggingface.co"
_TRUE = {"1", "true", "yes", "on"}


def endpoint() -> str:
    """The hub endpoint huggingface_hub uses (``HF_ENDPOINT``)."""
    try:
        from huggingface_hub import constants

        return str(constants.ENDPOINT).rstrip("/")
    except Exception:  # pragma: no cover - huggingface_hub is a dependency of all backends
        return os.environ.get("HF_ENDPOINT", DEFAULT_ENDPOINT).rstrip("/")


def offline_flag() -> str | None:
    """Which offline switch is on (``HF_HUB_OFFLINE`` or ``TRANSFORMERS_OFFLINE``), or None."""
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(name, "").strip().lower() in _TRUE:
            return name
    try:
        from huggingface_hub import constants

        return "HF_HUB_OFFLINE" if constants.HF_HUB_OFFLINE else None
    except Exception:  # pragma: no cover
        return None


def offline_mode() -> bool:
    """True when ``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) is set."""
    return offline_flag() is not None


def offline_reason() -> str:
    return f"{offline_flag() or 'HF_HUB_OFFLINE'} is set (offline mode)"


def probe(url: str, timeout: float = PROBE_TIMEOUT_S) -> str | None:
    """None if ``url``'s server (or the proxy from the environment) accepts a connection within
    ``timeout`` s, name lookup included (a lookup alone can block 20-50 s offline), else why
    not."""
    from infogauss_cli.core.netcheck import unreachable_reason

    return unreachable_reason(url, timeout)


def hub_unavailable_reason(url: str | None = None) -> str | None:
    """Why the hub (or the server of ``url``) cannot be used now, None if it can: offline
    mode, or no answer within :data:`PROBE_TIMEOUT_S`."""
    if offline_mode():
        return offline_reason()
    target = url_host(url) if url else endpoint()
    why = probe(target)
    if why is None:
        return None
    return f"{'the hub (' + target + ')' if url is None else target} is unreachable: {why}"


def offline_error(model: str, what: str, reason: str) -> RunError:
    """The one message for 'this model needs hub files that cannot be had'."""
    model_id = model.partition("@")[0]
    head = f"cannot load {model}: it needs {what}, which is not in the local cache, and {reason}"
    prefix = on_the_fly_prefix(model)
    if prefix is not None:  # a model named without a zoo entry: name the local copy the same way
        return RunError(
            f"{head}. Fetch it once on a connected machine, or use a local copy: "
            f"{prefix}:PATH (a folder copied from the hub repo)"
        )
    return RunError(
        f"{head}. Fetch it once on a connected machine, or use a local copy: put `weights: PATH` "
        "(a weights file, or a folder copied from the hub repo) in the entry's source in your "
        f"own zoo file and pass --zoo FILE or set INFOGAUSS_ZOO (`infogauss zoo show {model_id} "
        "--yaml > my_zoo.yaml` writes the entry to start from)"
    )


def cached_file(repo_id: str, filename: str, revision: str | None = None) -> Path | None:
    """The cached path of one hub file, or None; never touches the network."""
    from huggingface_hub import try_to_load_from_cache

    try:
        found = try_to_load_from_cache(repo_id, filename, revision=revision)
    except Exception:
        return None
    return Path(found) if isinstance(found, str) else None


def hub_file(
    model: str, repo_id: str, filenames: Sequence[str], revision: str | None = None
) -> Path:
    """The first of ``filenames`` in ``repo_id`` that exists: from the cache if there, else
    downloaded (after the fail-fast checks)."""
    for name in filenames:
        found = cached_file(repo_id, name, revision)
        if found is not None:
            return found
    what = f"{' or '.join(filenames)} from the Hugging Face hub repo {repo_id}"
    reason = hub_unavailable_reason()
    if reason is not None:
        raise offline_error(model, what, reason)
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError

    for i, name in enumerate(filenames):
        try:
            with translate_hub_errors(model, what):
                return Path(hf_hub_download(repo_id, name, revision=revision))
        except RunError as exc:
            cause = exc.__cause__
            missing = isinstance(cause, EntryNotFoundError) and not isinstance(
                cause, LocalEntryNotFoundError
            )
            if missing and i + 1 < len(filenames):
                continue
            raise
    raise AssertionError("unreachable")  # pragma: no cover


def hub_snapshot(
    model: str,
    repo_id: str,
    allow_patterns: Sequence[str],
    *,
    required: Sequence[str] = (),
    what: str | None = None,
    revision: str | None = None,
    download: bool = True,
    local_first: bool = True,
) -> Path | None:
    """A local folder with the files of ``repo_id`` that match ``allow_patterns``: the cached
    snapshot if it has every name in ``required`` (each a filename or a ``|``-separated
    choice), else a download (after the fail-fast checks). With ``download=False`` return None
    instead of downloading; with ``local_first=False`` skip the cache lookup."""
    from huggingface_hub import snapshot_download

    def complete(folder: Path) -> bool:
        return all(any((folder / n).exists() for n in req.split("|")) for req in required)

    if local_first:
        try:
            local = Path(
                snapshot_download(
                    repo_id,
                    revision=revision,
                    allow_patterns=list(allow_patterns),
                    local_files_only=True,
                )
            )
            if complete(local):
                return local
        except Exception:
            pass
    if not download:
        return None
    what = what or f"files from the Hugging Face hub repo {repo_id}"
    reason = hub_unavailable_reason()
    if reason is not None:
        raise offline_error(model, what, reason)
    with translate_hub_errors(model, what):
        folder = Path(
            snapshot_download(repo_id, revision=revision, allow_patterns=list(allow_patterns))
        )
    if not complete(folder):
        missing = [r for r in required if not any((folder / n).exists() for n in r.split("|"))]
        raise RunError(f"cannot load {model}: {repo_id} has no {', '.join(missing)}")
    return folder


def snapshot_revision(path: Path) -> str | None:
    """The commit hash of a file or folder inside the HF cache (``.../snapshots/<sha>/...``)."""
    parts = Path(path).parts
    if "snapshots" in parts:
        i = parts.index("snapshots")
        if i + 1 < len(parts):
            return parts[i + 1]
    return None


def hub_identity(repo_id: str, path: Path, requested: str | None = None) -> str:
    """``hf:REPO@COMMIT``, the weights identity of a hub file or folder in the embedding
    cache key: the commit the cache holds it at, else the revision asked for."""
    return f"hf:{repo_id}@{snapshot_revision(path) or requested}"


# ---- translating library errors ---------------------------------------------------------------
_OFFLINE_NAMES = {
    "LocalEntryNotFoundError",
    "OfflineModeIsEnabled",
    "ConnectError",
    "ConnectTimeout",
    "ConnectionError",
    "NameResolutionError",
    "MaxRetryError",
    "URLError",
    "ReadTimeout",
    "TimeoutException",
    "TimeoutError",
}


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def is_offline_failure(exc: BaseException) -> bool:
    """Does ``exc`` (or anything in its chain) say the hub or a download URL was unreachable?"""
    for e in _chain(exc):
        if any(t.__name__ in _OFFLINE_NAMES for t in type(e).__mro__):
            return True
        text = str(e)
        if "Failed to download weights" in text or "offline mode" in text.lower():
            return True
        if "couldn't connect to" in text.lower() or "we couldn't connect" in text.lower():
            return True
    return False


def hub_failure_reason(exc: BaseException) -> str:
    if offline_mode():
        return offline_reason()
    for e in _chain(exc):
        if type(e).__name__ in {"RepositoryNotFoundError", "GatedRepoError"}:
            return f"the hub refused it ({type(e).__name__})"
    return f"the hub ({endpoint()}) could not be reached ({type(exc).__name__})"


@contextlib.contextmanager
def translate_hub_errors(model: str, what: str) -> Iterator[None]:
    """Turn a library's hub/download failure inside the block into one :class:`RunError`."""
    try:
        yield
    except RunError:
        raise
    except Exception as exc:
        names = {type(e).__name__ for e in _chain(exc)}
        if names & {"RepositoryNotFoundError", "GatedRepoError", "RevisionNotFoundError"}:
            raise RunError(
                f"cannot load {model}: the hub refused {what} ({sorted(names)[0]}); check the "
                "name in the zoo entry, or log in (hf auth login) for a gated repo"
            ) from exc
        if names & {"EntryNotFoundError", "RemoteEntryNotFoundError"}:  # a 404, not offline
            raise RunError(f"cannot load {model}: {what} does not exist on the hub") from exc
        if is_offline_failure(exc):
            raise offline_error(model, what, hub_failure_reason(exc)) from exc
        raise


def url_host(url: str) -> str:
    parsed = urllib.parse.urlsplit(url)
    return f"{parsed.scheme}://{parsed.netloc}"
