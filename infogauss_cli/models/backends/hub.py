"""Hub access that fails fast: cached files need no network; offline or with the endpoint silent,
one :class:`RunError` says which model needed which file and how to use local weights."""

from __future__ import annotations

import contextlib
import os
import urllib.parse
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from infogauss_cli.core.errors import RunError
from infogauss_cli.core.netcheck import unreachable_reason
from infogauss_cli.models.weights import WeightsStatus, error_chain
from infogauss_cli.models.zoo_schema import ZooEntry, on_the_fly_prefix

Fetch = Literal["any", "cache", "hub"]
# a Hugging Face tokenizer's files (patterns to fetch) and the names one of which it needs
TOKENIZER_PATTERNS = ("tokenizer*", "special_tokens_map.json", "added_tokens.json", "vocab*")
TOKENIZER_PATTERNS += ("merges.txt", "spiece.model", "sentencepiece*")
TOKENIZER_FILES = "tokenizer.json|tokenizer_config.json|vocab.txt|vocab.json|spiece.model"


def endpoint() -> str:
    """The hub's URL (``HF_ENDPOINT`` or huggingface.co)."""
    from huggingface_hub import constants

    return str(constants.ENDPOINT).rstrip("/")


def offline_flag() -> str | None:
    """``"HF_HUB_OFFLINE is set (offline mode)"`` (or TRANSFORMERS_OFFLINE), or None."""
    from huggingface_hub import constants

    names = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    on = [n for n in names if os.environ.get(n, "").strip().lower() in {"1", "true", "yes", "on"}]
    on += ["HF_HUB_OFFLINE"] if constants.HF_HUB_OFFLINE else []
    return f"{on[0]} is set (offline mode)" if on else None


def hub_unavailable_reason(url: str | None = None) -> str | None:
    """Why the hub (or the server of ``url``) cannot be used now, None if it can."""
    if (reason := offline_flag()) is not None:
        return reason
    parsed = urllib.parse.urlsplit(url or "")
    target = f"{parsed.scheme}://{parsed.netloc}" if url else endpoint()
    if (why := unreachable_reason(target)) is None:  # within 3 s
        return None
    return f"{target if url else f'the hub ({target})'} is unreachable: {why}"


def offline_error(model: str, what: str, reason: str) -> RunError:
    """Which file ``model`` needs, why the hub cannot give it, and how to use a local copy."""
    head = f"cannot load {model}: it needs {what}, which is not in the local cache, and {reason}. "
    head += "Fetch it once on a connected machine, or use a local copy: "
    if (prefix := on_the_fly_prefix(model)) is not None:  # a model named without a zoo entry
        return RunError(f"{head}{prefix}:PATH (a folder copied from the hub repo)")
    return RunError(
        f"{head}put `weights: PATH` (a weights file, or a folder copied from the hub repo) in the "
        "entry's source in your own zoo file and pass --zoo FILE or set INFOGAUSS_ZOO (`infogauss "
        f"zoo show {model.partition('@')[0]} --yaml > my_zoo.yaml` writes the entry to start from)"
    )


def cached_file(repo_id: str, names: Sequence[str], revision: str | None = None) -> Path | None:
    """The first of ``names`` in the local cache of ``repo_id``, or None."""
    from huggingface_hub import try_to_load_from_cache

    for name in names:
        with contextlib.suppress(Exception):
            if isinstance(found := try_to_load_from_cache(repo_id, name, revision=revision), str):
                return Path(found)
    return None


def files_status(entry: ZooEntry, repo: str, names: Sequence[str]) -> WeightsStatus:
    """The status of hub weights: the first of ``names`` in ``repo``, cached or not."""
    cached = cached_file(repo, names, entry.source.revision)
    return WeightsStatus.hub(entry, f"hf://{repo} ({' or '.join(names)})", cached)


def hub_file(
    model: str, repo_id: str, filenames: Sequence[str], revision: str | None = None
) -> Path:
    """The first of ``filenames`` in ``repo_id`` that exists: cached, else downloaded."""
    if (found := cached_file(repo_id, filenames, revision)) is not None:
        return found
    what = f"{' or '.join(filenames)} from the Hugging Face hub repo {repo_id}"
    if (reason := hub_unavailable_reason()) is not None:
        raise offline_error(model, what, reason)
    from huggingface_hub import hf_hub_download
    from huggingface_hub.utils import EntryNotFoundError

    with translate_hub_errors(model, what):
        for name in filenames[:-1]:
            with contextlib.suppress(EntryNotFoundError):  # a 404 of one candidate: the next
                return Path(hf_hub_download(repo_id, name, revision=revision))
        return Path(hf_hub_download(repo_id, filenames[-1], revision=revision))


def hub_weights(entry: ZooEntry, repo: str, names: Sequence[str]) -> tuple[Path, str]:
    """(file, identity) of the entry's hub weights: the first of ``names`` in ``repo``."""
    file = hub_file(entry.ref, repo, names, entry.source.revision)
    return file, f"{hub_identity(repo, file, entry.source.revision)}:{file.name}"


@dataclass(frozen=True)
class Files:
    """``patterns`` to fetch, ``required`` names (each ``a|b`` a choice), ``what`` for messages."""

    patterns: Sequence[str]
    required: Sequence[str] = ()
    what: str | None = None

    def missing(self, folder: Path) -> list[str]:
        return [r for r in self.required if not any((folder / n).exists() for n in r.split("|"))]


def hub_snapshot(
    model: str, repo_id: str, files: Files, *, revision: str | None = None, fetch: Fetch = "any"
) -> Path | None:
    """A local folder with ``files``: the complete cached snapshot, else a download (``fetch``:
    ``"cache"`` gives None instead, ``"hub"`` skips the cache)."""
    from huggingface_hub import snapshot_download

    patterns = list(files.patterns)
    if fetch != "hub":
        with contextlib.suppress(Exception):
            kw = {"revision": revision, "allow_patterns": patterns, "local_files_only": True}
            if not files.missing(local := Path(snapshot_download(repo_id, **kw))):
                return local
    if fetch == "cache":
        return None
    what = files.what or f"files from the Hugging Face hub repo {repo_id}"
    if (reason := hub_unavailable_reason()) is not None:
        raise offline_error(model, what, reason)
    with translate_hub_errors(model, what):
        folder = Path(snapshot_download(repo_id, revision=revision, allow_patterns=patterns))
    if files.missing(folder):
        raise RunError(f"cannot load {model}: {repo_id} has no {', '.join(files.missing(folder))}")
    return folder


def hub_identity(repo_id: str, path: Path, requested: str | None = None) -> str:
    """``hf:REPO@COMMIT``: the commit of a cache path (``snapshots/COMMIT``), else ``requested``."""
    parts = Path(path).parts
    i = parts.index("snapshots") + 1 if "snapshots" in parts else len(parts)
    return f"hf:{repo_id}@{(parts[i] if i < len(parts) else None) or requested}"


_MISSING = {"EntryNotFoundError", "RemoteEntryNotFoundError"}
_OFFLINE_NAMES = {"LocalEntryNotFoundError", "OfflineModeIsEnabled", "ConnectError", "URLError"}
_OFFLINE_NAMES |= {"ConnectTimeout", "ConnectionError", "NameResolutionError", "MaxRetryError"}
_OFFLINE_NAMES |= {"ReadTimeout", "TimeoutException", "TimeoutError"}
_OFFLINE_TEXTS = ("failed to download weights", "offline mode", "couldn't connect")


@contextlib.contextmanager
def translate_hub_errors(model: str, what: str) -> Iterator[None]:
    """Turn a library's hub/download failure inside the block into one :class:`RunError`."""
    try:
        yield
    except RunError:
        raise
    except Exception as exc:
        names = {type(e).__name__ for e in error_chain(exc)}
        if names & {"RepositoryNotFoundError", "GatedRepoError", "RevisionNotFoundError"}:
            raise RunError(
                f"cannot load {model}: the hub refused {what} ({sorted(names)[0]}); check the "
                "name in the zoo entry, or log in (hf auth login) for a gated repo"
            ) from exc
        if names & _MISSING:  # a 404, not offline
            raise RunError(f"cannot load {model}: {what} does not exist on the hub") from exc
        if any(
            any(t.__name__ in _OFFLINE_NAMES for t in type(e).__mro__)
            or any(t in str(e).lower() for t in _OFFLINE_TEXTS)
            for e in error_chain(exc)
        ):
            unreached = f"the hub ({endpoint()}) could not be reached ({type(exc).__name__})"
            raise offline_error(model, what, offline_flag() or unreached) from exc
        raise
