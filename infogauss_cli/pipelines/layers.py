"""Per-layer profiles (``--layers``): the encoder built once and split into one encoder per
layer, each extracted and cached like any audit; rows ``"{model} {layer}"``."""

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
    from infogauss_cli.models.zoo_schema import ZooEntry

Layered = list[tuple[str | None, Extraction | ShardWork | RunError]]


def extract_layers(
    entry: ZooEntry,
    source: Source,
    tower: str,
    request: Request,
    before: Callable[[list[str]], None] | None = None,
    shard: Shard = Shard(),
) -> Layered:
    """``(layer, Extraction or RunError)`` for each selected layer (``[(None, RunError)]``: no
    model); ``before(names)`` runs before any extraction."""
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
    path = Path(out)
    return path.with_name(f"{path.stem}.{layer}{path.suffix}")


def layers_to_files(
    model: str, out: str | Path, request: Request, shard: Shard = Shard()
) -> list[ExtractedFile]:
    """``infogauss extract --layers``: one file per layer, all checked before any extraction."""
    _, entry, source, tower = file_tower(model, request, out)

    def check_layer_files(names: list[str]) -> None:
        check_out_files([layer_path(out, name) for name in names], request)

    files = []
    for name, ex in extract_layers(entry, source, tower, request, check_layer_files, shard):
        if isinstance(ex, Exception):
            raise ex
        ignored, who = ignored_counts(source, ex.tower), f"{entry.ref} {name}"
        if isinstance(ex, ShardWork):
            files.append(ExtractedFile((), ex, {}, ignored, who))
            continue
        meta = file_meta(entry.ref, ex, request.data.data, layer=name)
        written = save_or_rescue(layer_path(out, str(name)), ex, meta, request.compute)
        files.append(ExtractedFile(tuple(written), ex, meta, ignored, who))
    return files
