"""One chunked path: items -> plan -> loader -> runner -> writer -> cache -> (n, d) float32; a
stream is read once (chunk c to rank c mod world); Ctrl-C keeps the complete chunks. How it
computes: :class:`EngineOptions`; one call's settings, cache key and notes: :class:`Job`."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from infogauss_cli.core.errors import BadInputError, InfogaussError, RunError
from infogauss_cli.core.options import Compute
from infogauss_cli.core.progress import note, steps
from infogauss_cli.core.safe_text import markup_safe
from infogauss_cli.data.sources.base import Item, fingerprint_items, item_count
from infogauss_cli.data.sources.loaders import default_loader
from infogauss_cli.extract.cpu_decode import decode_key
from infogauss_cli.extract.distributed import meet, wait_for
from infogauss_cli.extract.loader import bucket_batches, make_loader, text_lengths
from infogauss_cli.extract.plan import (
    SHARED_HINT,
    EngineOptions,
    Plan,
    Shard,
    check_items,
    chunk_size,
    make_plan,
    owned_chunks,
)
from infogauss_cli.extract.result import Extraction, ShardWork, assemble, raise_if_skipped
from infogauss_cli.extract.runner import (
    Runner,
    default_batch_size,
    inference,
    resolve_device,
    resolve_precision,
)
from infogauss_cli.extract.store import CacheEntry, Chunk, EmbeddingCache, ids_digest
from infogauss_cli.extract.writer import ChunkWriter

if TYPE_CHECKING:  # pragma: no cover
    from infogauss_cli.models.registry import Encoder

LoadItem = Callable[[Item], Any]


def engine_options(
    compute: Compute, device: str | None = None, strict: bool = False, shard: Shard = Shard()
) -> EngineOptions:
    return EngineOptions(
        device=compute.device if device is None else device,
        precision=compute.precision,
        batch_size=compute.batch_size,
        workers=compute.workers,
        compile=compute.compile,
        decode=compute.decode,
        strict=strict,
        shard=shard,
    )


@dataclass
class Job:
    encoder: Encoder
    options: EngineOptions
    cache: EmbeddingCache | None = None
    data_fingerprint: str | None = None
    loader: LoadItem | None = None
    notes: list[str] = field(default_factory=list)

    def say(self, message: str) -> None:
        self.notes.append(message)
        note(f"[yellow]{markup_safe(message)}[/yellow]")

    def settings(self) -> tuple[str, str, int, int]:
        """(device, precision, batch size, chunk size), resolved."""
        o, tower = self.options, self.encoder.tower
        dev = resolve_device(o.device)
        prec = resolve_precision(o.precision, dev)
        bs = o.batch_size or default_batch_size(dev, tower)
        return dev, prec, bs, chunk_size(o.chunk_items, tower)

    def cache_entry(
        self, plan: Plan | None, data: str, precision: str, device: str, size: int
    ) -> CacheEntry:
        """The entry of this call's key (a stream, ``plan`` None: keyed without its ids)."""
        assert self.cache is not None
        enc = self.encoder
        items: dict[str, object] = {"stream": True}  # a stream: keyed without its ids
        if plan is not None:
            items = {"n_items": plan.n, "ids": ids_digest(plan.ids)}
        decode = decode_key(enc, self.options.decode)  # fast, gpu: other pixels
        parts = {
            "model_id": enc.model_id,
            "encoder": dict(enc.fingerprint),
            "tower": enc.tower,
            "dim": enc.dim,
            "data": data,
            **items,
            "precision": precision,
            "device_type": "cuda" if device.startswith("cuda") else "cpu",
            "chunk_size": size,
            **({"decode": decode} if decode else {}),
        }
        return self.cache.entry(parts, label=f"{enc.model_id}-{enc.tower}")


def extract(
    encoder: Encoder,
    items: Sequence[Item] | Iterable[Item],
    options: EngineOptions = EngineOptions(),
    *,
    cache: EmbeddingCache | str | os.PathLike[str] | None = None,
    data_fingerprint: str | None = None,
    loader: LoadItem | None = None,
) -> Extraction | ShardWork:
    """Embed ``items`` (a list, or a stream) with ``encoder``: the raw float32 embeddings of the
    readable items, or this process's :class:`ShardWork` when another one assembles.
    ``data_fingerprint``: the data part of the key (a cached stream needs one)."""
    t0 = time.perf_counter()
    if cache is not None and not isinstance(cache, EmbeddingCache):
        cache = EmbeddingCache(cache)
    job = Job(encoder, options, cache, data_fingerprint, loader)
    shard = options.shard
    share = _meet(job, items) if shard.synced else _Share.run(job, items)
    plan, entry = share.plan, share.entry
    where = str(entry.path) if entry is not None else None
    mine = share.mine
    if not shard.assembles:
        return ShardWork(
            encoder.model_id, encoder.tower, shard, tuple(mine), len(mine) - len(share.cached),
            _items_in(plan, mine), plan.n_chunks, time.perf_counter() - t0, where,
            tuple(job.notes),
        )  # fmt: skip
    scratch = entry.path if entry is not None else None
    emb, kept_ids, skipped = assemble(plan, share.done, job.say, scratch)
    elapsed = time.perf_counter() - t0
    runner = share.runner
    return Extraction(
        emb, tuple(kept_ids), tuple(skipped), encoder.model_id, encoder.tower, share.device,
        share.precision, runner.batch_size if runner is not None else plan.batch_size,
        share.workers, elapsed, plan.n / elapsed if elapsed > 0 else float("inf"),
        share.n_cached / plan.n, where, tuple(job.notes),
    )  # fmt: skip


def _items_in(plan: Plan, chunks: Iterable[int]) -> int:
    return sum(plan.bounds(c)[1] - plan.bounds(c)[0] for c in chunks)


def _meet(job: Job, items: Sequence[Item] | Iterable[Item]) -> _Share:
    """Under torchrun: this rank's share, then the meeting; rank 0 reads every other chunk."""
    shard = job.options.shard
    try:
        share, error = _Share.run(job, items), None
    except (Exception, KeyboardInterrupt) as exc:
        share, error = None, exc
    code = (error.exit_code if isinstance(error, InfogaussError) else 3) if error else 0
    cached = share.n_cached if share is not None else 0
    messages = meet("chunks", code, str(error) if error else "", cached)
    if error is not None:
        raise error
    assert share is not None and share.entry is not None
    share.n_cached = sum(int(m.data or 0) for m in messages)
    if not shard.assembles:
        return share
    plan, entry = share.plan, share.entry  # rank 0 reads every chunk the other ranks wrote
    rest = [c for c in range(plan.n_chunks) if c not in share.done]
    wait_for([entry.chunk_paths(c)[1] for c in rest])
    problems: list[str] = []
    share.done.update(entry.read_chunks(plan, job.encoder.dim, problems.append, rest))
    missing = [c for c in rest if c not in share.done]
    if missing:
        ranks = ", ".join(str(r) for r in sorted({c % shard.world for c in missing}))
        why = f" ({problems[0]})" if problems else ""
        raise BadInputError(
            f"rank 0 cannot read {len(missing)} cache chunk(s) that rank(s) {ranks} wrote in "
            f"{entry.path}{why}: {SHARED_HINT}"
        )
    return share


class _Share:
    def __init__(self, job: Job, known: bool) -> None:
        self.job, self.known = job, known
        self.device, self.precision, self.bs, self.size = job.settings()
        self.ids: list[str] = []
        self.seen: set[str] = set()
        self.entry: CacheEntry | None = None
        self.done: dict[int, Chunk] = {}
        self.mine: list[int] = []
        self.cached: list[int] = []
        self.error: BaseException | None = None  # what stopped a stream, raised at the end
        self.advance: Any = lambda k: None
        self.runner: Runner | None = None
        self.workers = self.n_cached = 0
        self.plan = Plan((), self.bs, self.size)
        self.writer = ChunkWriter(self.ids, self.size, None, job.encoder.dim, self.device)
        self.writer.done = self.done

    @classmethod
    def run(cls, job: Job, items: Sequence[Item] | Iterable[Item]) -> _Share:
        known = isinstance(items, Sequence)
        self = cls(job, known)
        shard, options = job.options.shard, job.options
        if known:
            check_items(items, job.encoder.tower)  # type: ignore[arg-type]
            self.plan = make_plan([it.id for it in items], self.bs, self.size)  # type: ignore[union-attr]
        if job.cache is None and shard.mode != "single":
            how = "--shard" if shard.mode == "job" else "torchrun"
            raise BadInputError(
                f"{how} needs the embedding cache: it is where the pieces meet; drop --no-cache"
            )
        if job.cache is not None:
            data = job.data_fingerprint
            if known:
                data = data or fingerprint_items("items", items)  # type: ignore[arg-type]
            elif data is None:
                raise BadInputError(
                    "a stream of items is cached under its data fingerprint: pass "
                    "data_fingerprint (the source's fingerprint), or a list of items, or no cache"
                )
            keyed = self.plan if known else None
            self.entry = job.cache_entry(keyed, data, self.precision, self.device, self.size).open()
        self.writer.entry = self.entry
        enc = job.encoder
        source: Any = items
        if known:
            batches: Any = self._plan_list(items)  # type: ignore[arg-type]
            if not batches:
                return self._finish(None)
        else:
            batches, source = self._sampler(items), ()  # batches carry the stream's items
        load = job.loader or default_loader(enc.tower)
        pipe = make_loader(source, enc, load, batches, replace(options, device=self.device))
        self.workers = pipe.workers
        for text in pipe.notes:
            job.say(text)
        runner = Runner(enc, self.device, self.precision, self.bs, job.say, pipe.device_prep)
        if options.compile:
            runner.compile()
        total = _items_in(self.plan, self.mine) if known else item_count(items)
        tag = "" if shard.mode == "single" else f" ({shard.label})"
        with steps(f"{enc.model_id} {enc.tower}{tag}", total, unit="items") as advance:
            self.advance = advance
            if known:
                advance(_items_in(self.plan, self.cached))
            self._feed(runner, pipe.loader)
        return self._finish(runner)

    def _finish(self, runner: Runner | None) -> _Share:
        if not self.known:
            if not self.ids:
                raise BadInputError("no items to embed")
            self.plan = make_plan(self.ids, self.bs, self.size)
            if self.entry is not None and self.job.options.shard.rank == 0:
                self.entry.record_stream(self.plan, self.job.say)
        computed = bool(set(self.mine) - set(self.cached))
        self.runner = runner if computed else None
        self.workers = self.workers if computed else 0
        self.n_cached = _items_in(self.plan, self.cached)
        return self

    def _plan_list(self, items: Sequence[Item]) -> list[list[int]]:
        self.ids += self.plan.ids
        batches: list[list[int]] = []
        for c in owned_chunks(self.plan, self.job.options.shard.rank, self.job.options.shard.world):
            start, stop = self.plan.bounds(c)
            batches += self._claim(c, start, items[start:stop])
        return batches

    def _claim(self, c: int, start: int, chunk: Sequence[Item]) -> list[list[int]]:
        """This process's chunk ``c`` (``chunk``, from item ``start``): cached, or its batches."""
        self.mine.append(c)
        if self.entry is not None:
            ids, dim = [it.id for it in chunk], self.job.encoder.dim
            found, problem = self.entry.read_chunk(c, start, start + len(chunk), ids, dim)
            if found is not None:
                if self.job.options.strict:
                    raise_if_skipped([(i, r) for _, i, r in found.skipped])
                self.done[c] = found
                self.cached.append(c)
                self.advance(len(chunk))
                return []
            if problem is not None:
                self.job.say(f"cache chunk {c} is corrupt ({problem}); recomputing it")
        local = make_plan([it.id for it in chunk], self.plan.batch_size, self.size)
        if self.job.options.bucket and self.job.encoder.tower == "text":
            out = bucket_batches(local, [0], text_lengths(chunk, self.job.encoder.collate))
        else:
            out = local.batches([0])
        out = [[start + i for i in b] for b in out]
        self.writer.expect(out)
        return out

    def _sampler(self, items: Iterable[Item]) -> Iterator[list[tuple[int, Item]]]:
        """A stream's batches of ``(index, item)``, read chunk by chunk; an error ends it
        (batches out are written)."""
        it, c, shard = iter(items), 0, self.job.options.shard
        while True:
            try:
                chunk = [item for _, item in zip(range(self.size), it, strict=False)]
                if not chunk:
                    return
                batches = self._take_stream(c, chunk, shard)
            except BaseException as exc:  # Ctrl-C or the source failing: finish what is out
                self.error = exc
                return
            start = len(self.ids) - len(chunk)
            for batch in batches:
                yield [(i, chunk[i - start]) for i in batch]
            c, chunk = c + 1, []  # at most one chunk of items alive

    def _take_stream(self, c: int, chunk: list[Item], shard: Shard) -> list[list[int]]:
        job = self.job
        check_items(chunk, job.encoder.tower)
        ids = [it.id for it in chunk]
        dup = next((i for i in ids if i in self.seen), None)
        if dup is not None:
            raise BadInputError(f"duplicate item id {dup!r}; ids must be unique")
        self.seen.update(ids)
        start = len(self.ids)
        self.ids += ids
        if c % shard.world != shard.rank:
            self.advance(len(ids))
            return []
        return self._claim(c, start, chunk)

    def _feed(self, runner: Runner, loader: Iterable[tuple]) -> None:
        writer, strict = self.writer, self.job.options.strict
        batches = iter(loader)
        try:
            with inference(runner.cuda):
                for indices, kept, batch, skipped in batches:
                    indices = [int(i) for i in indices]
                    skipped = [(int(i), reason) for i, reason in skipped]
                    if strict:
                        raise_if_skipped([(self.ids[i], reason) for i, reason in skipped])
                    out = runner(batch, len(kept)) if kept else None
                    writer.add(indices, skipped, out, runner.batch_size)
                    self.advance(len(indices))
                writer.close()
        except KeyboardInterrupt:
            self.error = KeyboardInterrupt()
        finally:
            del batches
            with contextlib.suppress(BaseException):  # stopped early: write the complete chunks
                writer.close()
        if isinstance(self.error, KeyboardInterrupt):
            if self.entry is None:
                raise RunError("interrupted (the cache was off, nothing was kept)")
            kept = sum(ch.stop - ch.start for ch in self.done.values())
            of = f"{kept} of {self.plan.n} items" if self.known else f"{kept} items of the stream"
            raise RunError(f"interrupted; rerun the same command to resume ({of} cached)")
        if self.error is not None:
            raise self.error
