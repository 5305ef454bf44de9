"""The extraction result and its assembly from chunks, in item order."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from infogauss_cli.core.errors import BadInputError, RunError, more_names

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from infogauss_cli.extract.plan import Plan, Shard
    from infogauss_cli.extract.store import Chunk

SKIPPED_SHOWN = 5  # how many skipped items messages name
RAM_SHARE = 8  # a matrix up to 1/8 of the machine's RAM is concatenated in memory


@dataclass(frozen=True)
class Extraction:
    """Raw float32 ``(n, dim)`` rows of the kept items in item order; ``skipped``: ``(id,
    reason)``; ``from_cache``: the share of items served from the cache."""

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
    weights: str | None = None  # the weights identity of the cache key (``file:sha256:...``)
    data_fingerprint: str | None = None  # sha256 of the data part of the cache key

    @property
    def n(self) -> int:
        return int(self.embeddings.shape[0])

    @property
    def dim(self) -> int:
        return int(self.embeddings.shape[1])


@dataclass(frozen=True)
class ShardWork:
    model_id: str
    tower: str
    shard: Shard
    chunks: tuple[int, ...]  # the chunks this process owns
    computed: int  # of them, computed by this call
    items: int  # items in this process's chunks
    total_chunks: int
    extract_s: float
    cache_path: str | None = None
    notes: tuple[str, ...] = ()


def skipped_text(skipped: Sequence[tuple[str, str]]) -> str:
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
    scratch: str | Path | None = None,
) -> tuple[np.ndarray, list[str], list[tuple[str, str]]]:
    """(embeddings, kept ids, skipped (id, reason)) in item order; a matrix over 1/RAM_SHARE of
    the RAM is assembled in a memory-mapped file in ``scratch``, unlinked at once."""
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
    rows, dim = len(kept_ids), embs[0].shape[1]
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover
        ram = None
    if scratch is not None and ram is not None and rows * dim * 4 > ram // RAM_SHARE:
        fd, name = tempfile.mkstemp(dir=scratch, prefix=".matrix.", suffix=".npy")
        try:
            with os.fdopen(fd, "wb") as fh:
                header = {"descr": "<f4", "fortran_order": False, "shape": (rows, dim)}
                np.lib.format.write_array_header_1_0(fh, header)
                for e in embs:
                    np.ascontiguousarray(e, dtype="<f4").tofile(fh)
            emb = np.load(name, mmap_mode="r", allow_pickle=False)
        finally:
            if os.name == "posix":  # mapped, so the file lives on until the matrix goes
                Path(name).unlink(missing_ok=True)
    else:
        emb = np.ascontiguousarray(np.concatenate(embs), dtype=np.float32)
    if bad_rows:
        say(f"{bad_rows} embedding rows contain NaN or inf (try --precision fp32)")
    return emb, kept_ids, skipped_all
