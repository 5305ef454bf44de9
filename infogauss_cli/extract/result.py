"""The extraction result and its assembly from chunks, in item order."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import BadInputError, RunError, more_names

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from ..store import Chunk
    from .plan import Plan

SKIPPED_SHOWN = 5  # how many skipped items messages name
ASSEMBLED = ".assembled.npy"  # suffix of <entry folder>: its embeddings in item order (mmap)


@dataclass(frozen=True)
class Extraction:
    """The result of :func:`~infogauss_cli.extract.extract`. ``embeddings`` are raw float32
    ``(n, dim)`` rows in item order of the kept items; ``skipped`` lists ``(id, reason)`` of items
    that could not be read; ``from_cache`` is the share of items served from the cache."""

    embeddings: np.ndarray
    ids: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...]
    model_id: str
    tower: str
    device: str
    precision: str
    batch_size: int
    workers: int
    extract_s: float
    items_per_s: float
    from_cache: float
    cache_path: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def n(self) -> int:
        return int(self.embeddings.shape[0])

    @property
    def dim(self) -> int:
        return int(self.embeddings.shape[1])


def skipped_text(skipped: Sequence[tuple[str, str]]) -> str:
    """``a (reason), b (reason) and 4 more``."""
    return more_names([f"{i} ({r})" for i, r in skipped], SKIPPED_SHOWN)


def raise_if_skipped(skipped: Sequence[tuple[str, str]]) -> None:
    """``--strict``: unreadable items are an error naming them."""
    if skipped:
        raise BadInputError(
            f"unreadable item(s) with --strict: {skipped_text(skipped)}"
            "; fix or remove them, or drop --strict to skip them"
        )


def assemble(
    plan: Plan,
    done: Mapping[int, Chunk],
    say: Callable[[str], None],
    out: str | Path | None = None,
) -> tuple[np.ndarray, list[str], list[tuple[str, str]]]:
    """(embeddings, kept ids, skipped (id, reason)) from every chunk of ``plan``, in item
    order. None readable is a RunError; non-finite rows are reported through ``say``.
    ``out``: the embeddings are written there (``.npy``) and returned memory-mapped
    (:func:`~infogauss_cli.store.assemble_to_file`), not concatenated in RAM."""
    import numpy as np

    embs, kept_ids, skipped_all = [], [], []
    ids = plan.ids
    for c in range(plan.n_chunks):
        chunk = done[c]
        gone = {off for off, _, _ in chunk.skipped}
        kept_ids += [ids[i] for i in range(chunk.start, chunk.stop) if i - chunk.start not in gone]
        skipped_all += [(item_id, reason) for _, item_id, reason in chunk.skipped]
        embs.append(chunk.embeddings)
    if not kept_ids:
        first = skipped_all[0] if skipped_all else ("?", "?")
        raise RunError(f"none of the {plan.n} items could be read (first: {first[0]}: {first[1]})")
    bad_rows = sum(int((~np.isfinite(e)).any(axis=1).sum()) for e in embs)
    if out is not None:
        from ..store import assemble_to_file

        emb = assemble_to_file(out, embs, len(kept_ids), embs[0].shape[1])
    else:
        emb = np.ascontiguousarray(np.concatenate(embs), dtype=np.float32)
    if bad_rows:
        say(f"{bad_rows} embedding rows contain NaN or inf (try --precision fp32)")
    return emb, kept_ids, skipped_all
