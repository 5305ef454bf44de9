"""Encoder x items -> float32 embeddings: plan, cache, load, run, assemble.

- :mod:`.plan`: items -> fixed cache chunks and their batches; which chunks a process owns
  (torchrun ranks and ``--shard K/N`` pieces, :mod:`infogauss_cli.extract.distributed`);
- :mod:`.loader`: the DataLoader (workers load with the source's item loader, prepare, collate);
- :mod:`.runner`: device, precision, autocast, OOM back-off, the encoder call;
- :mod:`.writer`: batch outputs -> complete chunks -> the cache;
- :mod:`.options`: :class:`EngineOptions` (how to compute: device, precision, batch size...);
- :mod:`.engine`: :func:`extract` (plan -> cached chunks -> run the rest -> assemble);
- :mod:`.stream`: a stream of items, chunk by chunk (bounded memory);
- :mod:`.model`: zoo entry x source -> :func:`extract_model`, :func:`extract_to_file`;
- :mod:`.tower`: one tower's extraction, or the RunError that stopped it (audit, track, depth).

Importing this package is cheap: torch is imported when an extraction runs.
"""

from __future__ import annotations

from infogauss_cli.extract.engine import ShardWork, extract
from infogauss_cli.extract.loader import default_workers
from infogauss_cli.extract.model import (
    ExtractedFile,
    extract_model,
    extract_to_file,
    resolve_towers,
    select_items,
)
from infogauss_cli.extract.options import EngineOptions
from infogauss_cli.extract.plan import (
    DEFAULT_CHUNK_ITEMS,
    Plan,
    chunk_owners,
    default_chunk_items,
    make_plan,
    owned_chunks,
)
from infogauss_cli.extract.result import SKIPPED_SHOWN, Extraction, skipped_text
from infogauss_cli.extract.runner import (
    PRECISIONS,
    default_batch_size,
    resolve_device,
    resolve_precision,
)

__all__ = [
    "DEFAULT_CHUNK_ITEMS",
    "PRECISIONS",
    "SKIPPED_SHOWN",
    "EngineOptions",
    "ExtractedFile",
    "Extraction",
    "Plan",
    "ShardWork",
    "chunk_owners",
    "default_batch_size",
    "default_chunk_items",
    "default_workers",
    "extract",
    "extract_model",
    "extract_to_file",
    "make_plan",
    "owned_chunks",
    "resolve_device",
    "resolve_precision",
    "resolve_towers",
    "select_items",
    "skipped_text",
]
