"""Batch outputs -> complete chunks -> the cache, on a writer thread (host copies on a CUDA
side stream, a bounded queue; an error on the thread is raised at the next call)."""

from __future__ import annotations

import contextlib
import errno
import queue
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infogauss_cli.core.errors import IOFailure, io_failure
from infogauss_cli.extract.store import CacheEntry, Chunk

if TYPE_CHECKING:  # pragma: no cover
    from torch import Tensor
    from torch.cuda import Event

_STOP = object()
QUEUE_SIZE = 4  # chunks waiting for the writer thread: bounded host memory


@dataclass
class _Pending:
    bs: int
    out: list[Tensor] = field(default_factory=list)
    kept: list[int] = field(default_factory=list)
    skipped: list[tuple[int, str, str]] = field(default_factory=list)


class ChunkWriter:
    """Collects batch outputs per chunk; writes each once its batches (:meth:`expect`) are in."""

    def __init__(
        self, ids: Sequence[str], size: int, entry: CacheEntry | None, dim: int, device: str = "cpu"
    ) -> None:
        self.ids, self.size, self.entry, self.dim = ids, size, entry, dim
        self.done: dict[int, Chunk] = {}
        self.left: Counter[int] = Counter()  # batches still to come, per chunk
        self.pending: dict[int, _Pending] = {}
        self.finished: list[int] = []  # chunks whose last batch was launched, not yet written
        import torch

        self.torch, self.cuda, self.device = torch, device.startswith("cuda"), device
        self.stream = torch.cuda.Stream(device) if self.cuda else None
        self.error: BaseException | None = None
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=QUEUE_SIZE)
        self.thread: threading.Thread | None = None  # started with the first chunk to write

    def expect(self, batches: Sequence[Sequence[int]]) -> None:
        self.left.update(batch[0] // self.size for batch in batches)

    def add(
        self,
        indices: Sequence[int],
        skipped: Sequence[tuple[int, str]],
        out: Tensor | None,
        batch_size: int,
    ) -> None:
        """One batch: item ``indices``, ``skipped`` (index, reason), ``out`` (rows of the kept
        items, or None) and its batch size. Writes chunks finished before."""
        self._raise()
        c = indices[0] // self.size
        start = c * self.size
        state = self.pending.setdefault(c, _Pending(batch_size))
        state.skipped += [(i - start, self.ids[i], reason) for i, reason in skipped]
        if out is not None:
            gone = {i for i, _ in skipped}
            state.kept += [i for i in indices if i not in gone]
            state.out.append(out)
        state.bs = min(state.bs, batch_size)
        self._submit_finished()  # now that this batch's work is queued
        self.left[c] -= 1
        if self.left[c] == 0:
            self.finished.append(c)

    def _submit_finished(self) -> None:
        while self.finished:
            c = self.finished.pop(0)
            state = self.pending.pop(c)
            host, event = self._to_host(state.out)
            state.out = []
            if self.thread is None:
                self.thread = threading.Thread(target=self._loop, daemon=True)
                self.thread.start()
            while True:  # bounded waits, so a dead writer thread cannot hang us
                self._raise()
                with contextlib.suppress(queue.Full):
                    self.queue.put((c, state, host, event), timeout=0.5)
                    break

    def _to_host(self, tensors: list[Tensor]) -> tuple[list[Tensor], Event | None]:
        torch = self.torch
        if not self.cuda:
            return [t.detach().cpu() for t in tensors], None
        side = self.stream
        side.wait_stream(torch.cuda.current_stream(self.device))  # after the forward pass
        out = []
        with torch.cuda.stream(side):
            for t in tensors:
                host = torch.empty(t.shape, dtype=t.dtype, pin_memory=True)
                host.copy_(t, non_blocking=True)
                t.record_stream(side)  # the allocator keeps t until the copy is over
                out.append(host)
            event = torch.cuda.Event()
            event.record(side)
        return out, event

    def close(self) -> None:
        """Write every finished chunk, stop the thread; an error on it is raised here."""
        try:
            self._submit_finished()
            self.queue.join()
            self._raise()
        finally:
            if self.thread is not None and self.thread.is_alive():
                self.queue.put(_STOP)
                self.thread.join()
            self.thread = None

    def _raise(self) -> None:
        if self.error is not None:
            error, self.error = self.error, None
            raise error

    def _loop(self) -> None:
        while True:
            job = self.queue.get()
            try:
                if job is _STOP:
                    return
                if self.error is None:  # after a failure, drain without writing
                    self._write(*job)
            except BaseException as exc:  # handed to the main thread
                self.error = exc
            finally:
                self.queue.task_done()

    def _write(self, c: int, state: _Pending, host: list[Tensor], event: Event | None) -> None:
        import numpy as np

        if event is not None:
            event.synchronize()
        start, stop = c * self.size, min(len(self.ids), (c + 1) * self.size)
        parts = [t.numpy() for t in host]
        arr = np.concatenate(parts) if parts else np.zeros((0, self.dim), np.float32)
        kept = np.asarray(state.kept, dtype=np.int64)
        if kept.size > 1 and np.any(np.diff(kept) < 0):  # bucketed: back to the items' order
            arr = arr[np.argsort(kept, kind="stable")]
        skipped = tuple(sorted(state.skipped))
        chunk = Chunk(c, start, stop, np.ascontiguousarray(arr), skipped, state.bs)
        if self.entry is not None:
            try:
                self.entry.write_chunk(chunk, self.ids[start:stop])
            except OSError as exc:
                raise chunk_write_failure(exc, self.entry.path, len(self.done)) from None
        self.done[c] = chunk


def chunk_write_failure(exc: OSError, folder: Path, kept: int) -> IOFailure:
    """The error of a chunk not written to ``folder`` (``kept`` chunks written before it)."""
    elsewhere = "or pass --cache-dir DIR elsewhere, or --no-cache"
    done = f"the {kept} chunk(s) written so far are kept"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        fix = f"{done}: free space and rerun to resume, {elsewhere}"
        return io_failure(exc, folder, "write a cache chunk in", fix=fix)
    path = exc.filename2 or exc.filename or folder  # a rename names its target second
    if exc.errno == errno.EISDIR:
        fix = f"remove that folder (a chunk file belongs there) and rerun to resume, {elsewhere}"
    else:
        fix = f"{done}; check that path and rerun to resume, {elsewhere}"
    return io_failure(exc, path, "write the cache chunk", fix=fix)
