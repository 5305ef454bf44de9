"""Per-layer profiles (``--layers``): one extraction per layer of one model x tower.

The backend's encoder is built once and split into one encoder per selected layer
(:mod:`infogauss_cli.models.backends.common`): each is extracted and cached like any audit (one
cache entry per layer), the model running once per batch for all the layers that still need
it. Rows are labelled ``"{model} {layer}"`` (``minilm-l6 L3``) and carry ``layer`` in their
protocol.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from infogauss_cli.core.errors import RunError
from infogauss_cli.core.options import Request, parse_layers
from infogauss_cli.data.sources import ignored_counts
from infogauss_cli.data.sources.base import Source
from infogauss_cli.extract.model import (
    ExtractedFile,
    check_out_files,
    extract_tower,
    file_meta,
    file_tower,
    save_or_rescue,
)
from infogauss_cli.extract.plan import Shard
from infogauss_cli.extract.result import Extraction, ShardWork
from infogauss_cli.models import catalogue
from infogauss_cli.models.backends.common import layer_encoders

if TYPE_CHECKING:  # pragma: no cover
    from infogauss_cli.judge.model import Row
    from infogauss_cli.models.zoo_schema import ZooEntry

Layered = list[tuple[str | None, Extraction | ShardWork | RunError]]


def layer_of(row: Row) -> str | None:
    """The ``layer`` of a row's protocol (``L3``), or None."""
    return (getattr(row, "protocol", None) or {}).get("layer")


def layer_index(name: str | None) -> int | None:
    """``L3`` -> 3 (None when the name holds no number)."""
    digits = "".join(c for c in str(name or "") if c.isdigit())
    return int(digits) if digits else None


def extract_layers(
    entry: ZooEntry,
    source: Source,
    tower: str,
    request: Request,
    before: Callable[[list[str]], None] | None = None,
    shard: Shard = Shard(),
) -> Layered:
    """``(layer name, Extraction or RunError)`` for each layer ``--layers`` selects;
    ``[(None, RunError)]`` when the model cannot be built. ``before(names)`` runs once the
    names are known, before any extraction (e.g. to check the files they go to)."""
    spec = parse_layers(request.protocol.layers)
    assert spec is not None
    try:
        base = catalogue.build_encoder(entry, tower)
    except RunError as exc:
        return [(None, exc)]
    encoders = layer_encoders(base, spec, entry.ref)
    if before is not None:
        before([name for _, name, _ in encoders])
    out: Layered = []
    for _, name, enc in encoders:
        try:
            ex = extract_tower(entry, source, tower, request, enc, shard)
        finally:
            enc.forward.done()
        out.append((name, ex))
    return out


def layer_path(out: str | Path, layer: str) -> Path:
    """``emb.npy`` -> ``emb.L3.npy`` (the file of one layer)."""
    path = Path(out)
    return path.with_name(f"{path.stem}.{layer}{path.suffix}")


def layers_to_files(
    model: str, out: str | Path, request: Request, shard: Shard = Shard()
) -> list[ExtractedFile]:
    """``infogauss extract --layers``: one file per layer (:func:`layer_path`), each checked
    before any layer is extracted; a layer that fails raises its RunError."""
    _, entry, source, tower = file_tower(model, request, out)

    def check_layer_files(names: list[str]) -> None:
        check_out_files([layer_path(out, name) for name in names], request)

    found = extract_layers(entry, source, tower, request, check_layer_files, shard)
    return [_layer_file(entry, source, request, (name, ex), out) for name, ex in found]


def _layer_file(
    entry: ZooEntry,
    source: Source,
    request: Request,
    found: tuple[str | None, Extraction | ShardWork | RunError],
    out: str | Path,
) -> ExtractedFile:
    """Write one layer's extraction to its file (or raise the RunError that stopped it)."""
    name, ex = found
    if isinstance(ex, Exception):
        raise ex
    ignored = ignored_counts(source, ex.tower)
    if isinstance(ex, ShardWork):
        return ExtractedFile((), ex, {}, ignored, f"{entry.ref} {name}")
    path = layer_path(out, str(name))
    meta = file_meta(entry.ref, ex, request.data.data, layer=name)
    files = save_or_rescue(path, ex, meta, request.compute)
    return ExtractedFile(tuple(files), ex, meta, ignored, f"{entry.ref} {name}")
