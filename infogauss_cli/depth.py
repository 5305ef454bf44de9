"""Per-layer profiles (``--layers``): one extraction per layer of one model x tower.

The backend's encoder is built once and split into one encoder per selected layer
(:mod:`infogauss_cli.backends.layers`): each is extracted and cached like any audit (one
cache entry per layer), the model running once per batch for all the layers that still need
it. Rows are labelled ``"{model} {layer}"`` (``minilm-l6 L3``) and carry ``layer`` in their
protocol.
"""

from __future__ import annotations

from typing import Any

from .errors import RunError
from .options import Compute, Protocol

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
) -> Layered:
    """``(layer name, Extraction or RunError)`` for each layer ``protocol.layers`` selects
    (:func:`~infogauss_cli.audit.extract_tower` per layer encoder); ``[(None, RunError)]`` when
    the model itself cannot be built."""
    from .audit import extract_tower
    from .backends import build_encoder
    from .backends.layers import layer_encoders, parse_layers

    spec = parse_layers(protocol.layers)
    assert spec is not None
    try:
        base = build_encoder(entry, tower)
    except RunError as exc:
        return [(None, exc)]
    out: Layered = []
    for _, name, enc in layer_encoders(base, spec, entry.ref):
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
    one file per layer (:func:`layer_path`); a layer that fails raises its RunError."""
    from .extract.model import ExtractedFile, check_out_path, file_meta, file_tower, save_or_rescue
    from .sources import ignored_counts

    _, entry, source, tower = file_tower(model, data, compute, console, out)
    found = extract_layers(entry, source, tower, protocol, compute, compute.cache(), data, console)
    written = []
    for name, ex in found:
        if isinstance(ex, Exception):
            raise ex
        path = check_out_path(layer_path(out, str(name)))
        meta = file_meta(entry.ref, ex, data.data, layer=name)
        files = save_or_rescue(path, ex, meta, compute)
        ignored = ignored_counts(source, ex.tower)
        written.append(ExtractedFile(tuple(files), ex, meta, ignored, f"{entry.ref} {name}"))
    return written
