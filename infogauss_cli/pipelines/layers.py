"""Per-layer profiles (``--layers``): one extraction per layer of one model x tower.

The backend's encoder is built once and split into one encoder per selected layer
(:mod:`infogauss_cli.models.backends.per_layer`): each is extracted and cached like any audit (one
cache entry per layer), the model running once per batch for all the layers that still need
it. Rows are labelled ``"{model} {layer}"`` (``minilm-l6 L3``) and carry ``layer`` in their
protocol.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from infogauss_cli.core.errors import RunError
from infogauss_cli.core.options import Compute, Protocol
from infogauss_cli.extract.store import open_cache
from infogauss_cli.models.backends.per_layer import layer_encoders

Layered = list[tuple[str | None, Any]]


def layer_of(row: Any) -> str | None:
    """The ``layer`` of a row's protocol (``L3``), or None."""
    return (getattr(row, "protocol", None) or {}).get("layer")


def layer_index(name: str | None) -> int | None:
    """``L3`` -> 3 (None when the name holds no number)."""
    digits = "".join(c for c in str(name or "") if c.isdigit())
    return int(digits) if digits else None


def extract_layers(
    entry: Any,
    source: Any,
    tower: str,
    protocol: Protocol,
    compute: Compute,
    cache: Any,
    data: Any,
    console: Any = None,
    before: Callable[[list[str]], None] | None = None,
) -> Layered:
    """``(layer name, Extraction or RunError)`` for each layer ``protocol.layers`` selects
    (:func:`~infogauss_cli.extract.tower.extract_tower` per layer encoder);
    ``[(None, RunError)]`` when the model itself cannot be built. ``before(names)`` runs once
    the layer names are known, before any extraction (e.g. to check the files they will be
    written to)."""
    from infogauss_cli.core.options import parse_layers
    from infogauss_cli.extract.tower import extract_tower
    from infogauss_cli.models.catalogue import build_encoder

    spec = parse_layers(protocol.layers)
    assert spec is not None
    try:
        base = build_encoder(entry, tower)
    except RunError as exc:
        return [(None, exc)]
    encoders = layer_encoders(base, spec, entry.ref)
    if before is not None:
        before([name for _, name, _ in encoders])
    out: Layered = []
    for _, name, enc in encoders:
        try:
            ex = extract_tower(entry, source, tower, protocol, compute, cache, data, console, enc)
        finally:
            enc.forward.done()
        out.append((name, ex))
    return out


def layer_path(out: Any, layer: str) -> Any:
    """``emb.npy`` -> ``emb.L3.npy`` (the file of one layer)."""
    from pathlib import Path

    path = Path(out)
    return path.with_name(f"{path.stem}.{layer}{path.suffix}")


def layers_to_files(
    model: str,
    out: Any,
    data: Any,
    protocol: Protocol,
    compute: Compute,
    console: Any = None,
) -> list[Any]:
    """``infogauss extract --layers``: like :func:`~infogauss_cli.extract.extract_to_file`,
    one file per layer (:func:`layer_path`), each checked before any layer is extracted; a
    layer that fails raises its RunError."""
    from infogauss_cli.extract.model import check_out_files, file_tower

    _, entry, source, tower = file_tower(model, data, compute, console, out)

    def check_layer_files(names: list[str]) -> None:
        check_out_files([layer_path(out, name) for name in names], data, compute)

    found = extract_layers(
        entry,
        source,
        tower,
        protocol,
        compute,
        open_cache(compute),
        data,
        console,
        check_layer_files,
    )
    return [_layer_file(entry, source, data, compute, name, ex, out) for name, ex in found]


def _layer_file(
    entry: Any, source: Any, data: Any, compute: Compute, name: str | None, ex: Any, out: Any
) -> Any:
    """Write one layer's extraction to its file (or raise the RunError that stopped it)."""
    from infogauss_cli.data.sources import ignored_counts
    from infogauss_cli.extract.model import ExtractedFile, file_meta, save_or_rescue

    if isinstance(ex, Exception):
        raise ex
    path = layer_path(out, str(name))
    meta = file_meta(entry.ref, ex, data.data, layer=name)
    files = save_or_rescue(path, ex, meta, compute)
    ignored = ignored_counts(source, ex.tower)
    return ExtractedFile(tuple(files), ex, meta, ignored, f"{entry.ref} {name}")
