"""Backends turn a zoo entry and a tower into an :class:`~.base.Encoder`.

One module per library (timm, open_clip, transformers, sentence-transformers), each defining a
:class:`~.registry.Backend`, and one registration line in :mod:`infogauss_cli.models.registry`.
The modules import their library only when an entry is built, so ``import
infogauss_cli.models.backends`` stays cheap. The contract is in :class:`~.registry.Backend`;
docs/zoo.md shows adding a backend.
"""

from __future__ import annotations

import pickle
from typing import TYPE_CHECKING

from infogauss_cli.core.errors import BadInputError, InfogaussError, RunError, first_line
from infogauss_cli.models.backend import (
    Backend,
    BackendSpec,
    backend_names,
    get_backend,
    register_backend,
)
from infogauss_cli.models.backends.load_errors import weights_load_error

if TYPE_CHECKING:  # pragma: no cover
    from infogauss_cli.models.backends.base import Encoder
    from infogauss_cli.models.backends.common import WeightsStatus
    from infogauss_cli.models.schema import ZooEntry

__all__ = [
    "Backend",
    "BackendSpec",
    "backend_names",
    "build_encoder",
    "check_entry",
    "fail_fast",
    "get_backend",
    "register_backend",
    "weights_status",
]


def build_encoder(entry: ZooEntry, tower: str) -> Encoder:
    """Build one tower of ``entry``: the module in eval mode on CPU in float32, its
    preprocessing, collate and forward. Hub weights come from the local cache or a download
    that fails fast offline (:mod:`.hub`); random twins (``pretrained: false``) never touch the
    network for their weights."""
    if tower not in entry.towers:
        raise BadInputError(f"{entry.ref} has no {tower} tower (it has: {', '.join(entry.towers)})")
    backend = get_backend(entry.backend)
    try:
        return backend.build(entry, tower)
    except InfogaussError:
        raise
    except (RuntimeError, OSError, ValueError, KeyError, EOFError, pickle.UnpicklingError) as exc:
        known = weights_load_error(exc, entry.ref, _weights_path(entry))
        if known is not None:
            raise known from None
        raise RunError(
            f"cannot load {entry.ref} ({entry.backend} {entry.source.name}): "
            f"{type(exc).__name__}: {first_line(exc, '')[:500]}"
        ) from exc


def _weights_path(entry: ZooEntry) -> object:
    """The local weights path of ``entry`` for messages, or None (hub, random, unknown)."""
    from infogauss_cli.models.weights import weights_location

    try:
        return weights_location(entry).path
    except InfogaussError:
        return None


def fail_fast(entry: ZooEntry) -> None:
    """Before any heavy import: local weights that are missing are a :class:`BadInputError`,
    hub weights that are not cached while the hub cannot be reached a :class:`RunError` (the
    message of :func:`.hub.offline_error`). Silent when the backend cannot tell without its
    library (no ``quick_status``) or the weights may download."""
    name = getattr(entry, "backend", None)
    if name not in backend_names():  # a stand-in entry, or a backend build will name as unknown
        return
    quick = getattr(get_backend(name), "quick_status", None)
    status = quick(entry) if quick is not None else None
    if status is None or status.available or status.kind != "hub":
        return
    from infogauss_cli.models.backends import hub

    reason = hub.hub_unavailable_reason()
    if reason is not None:
        raise hub.offline_error(entry.ref, f"the weights {status.location}", reason)


def weights_status(entry: ZooEntry) -> WeightsStatus:
    """Where ``entry``'s weights come from and whether they are on this machine (no network)."""
    return get_backend(entry.backend).weights_status(entry)


def check_entry(entry: ZooEntry) -> None:
    """Check ``entry``'s names against the installed library and its local weights path, with
    no network and no model built; a problem is a :class:`BadInputError`."""
    from infogauss_cli.models.weights import weights_location

    get_backend(entry.backend).check(entry)
    weights_location(entry)
