"""Batch outputs -> complete chunks -> the cache.

Outputs stay on the device until their chunk is complete and the next batch has been launched;
then the chunk is copied back, written to the cache entry (atomically, see :mod:`..store`) and
kept for assembly. :meth:`ChunkWriter.flush` is the one place a chunk is written: the seam for a
writer thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..store import CacheEntry, Chunk
from .plan import Plan


class ChunkWriter:
    """Collects the outputs of ``batches`` (item-index lists, as the loader yields them) per
    chunk; ``done`` (chunk -> :class:`Chunk`) receives every chunk written."""

    def __init__(
        self,
        plan: Plan,
        batches: Sequence[Sequence[int]],
        entry: CacheEntry | None,
        done: dict[int, Chunk],
        dim: int,
    ) -> None:
        self.plan, self.entry, self.done, self.dim = plan, entry, done, dim
        self.left: dict[int, int] = {}
        for batch in batches:
            c = plan.chunk_of(batch[0])
            self.left[c] = self.left.get(c, 0) + 1
        self.pending: dict[int, dict[str, Any]] = {}
        self.finished: list[int] = []  # chunks whose last batch was launched, not yet written

    def add(
        self,
        indices: Sequence[int],
        skipped: Sequence[tuple[int, str]],
        out: Any,
        batch_size: int,
    ) -> None:
        """One batch: its item ``indices``, ``skipped`` (index, reason), ``out`` (device rows of
        the kept items, or None) and the batch size it ran at. Writes chunks finished before."""
        c = self.plan.chunk_of(indices[0])
        start = self.plan.bounds(c)[0]
        state = self.pending.setdefault(c, {"out": [], "skipped": [], "bs": batch_size})
        ids = self.plan.ids
        state["skipped"] += [(i - start, ids[i], reason) for i, reason in skipped]
        if out is not None:
            state["out"].append(out)
        state["bs"] = min(state["bs"], batch_size)
        self.flush()  # now that this batch's work is queued
        self.left[c] -= 1
        if self.left[c] == 0:
            self.finished.append(c)

    def flush(self) -> None:
        """Write every finished chunk."""
        while self.finished:
            self._write(self.finished.pop(0))

    def _write(self, c: int) -> None:
        import numpy as np

        state = self.pending.pop(c)
        start, stop = self.plan.bounds(c)
        parts = [t.cpu().numpy() for t in state["out"]]
        arr = np.concatenate(parts) if parts else np.zeros((0, self.dim), np.float32)
        chunk = Chunk(c, start, stop, arr, tuple(state["skipped"]), state["bs"])
        if self.entry is not None:
            try:
                self.entry.write_chunk(chunk, self.plan.ids[start:stop])
            except OSError as exc:
                from ..errors import io_failure

                fix = (
                    f"the {len(self.done)} chunk(s) written so far are kept: free space and "
                    "rerun to resume, or pass --cache-dir DIR elsewhere, or --no-cache"
                )
                raise io_failure(exc, self.entry.path, "write a cache chunk in", fix=fix) from None
        self.done[c] = chunk
