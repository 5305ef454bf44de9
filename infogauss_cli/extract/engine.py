"""One chunked path: items -> plan -> loader -> runner -> writer -> cache -> (n, d) float32; a
stream is read once (chunk c to rank c mod world); Ctrl-C keeps the complete chunks."""

from __future__ import annotations

import contextlib
import itertools
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from infogauss_cli.core.errors import BadInputError, RunError
from infogauss_cli.core.options import Compute
from infogauss_cli.core.progress import note, steps
from infogauss_cli.core.safe_text import markup_safe
from infogauss_cli.data.sources.base import Item, fingerprint_items, item_count
from infogauss_cli.data.sources.loaders import default_loader
from infogauss_cli.extract.cpu_decode import decode_key
from infogauss_cli.extract.distributed import meet, wait_for
from infogauss_cli.extract.loader import make_loader, text_lengths
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
from infogauss_cli.extract.store import CacheEntry, EmbeddingCache, ids_digest
from infogauss_cli.extract.writer import ChunkWriter

if TYPE_CHECKING:  # pragma: no cover
    from infogauss_cli.models.registry import Encoder

LoadItem = Callable[[Item], Any]


def engine_options(
    compute: Compute, device: str | None = None, strict: bool = False, shard: Shard = Shard()
) -> EngineOptions:
    """The engine's part of ``compute``; ``device``: this process's, resolved."""
    same = ("precision", "batch_size", "workers", "compile", "decode")
    kept = {name: getattr(compute, name) for name in same}
    return EngineOptions(device=device or compute.device, strict=strict, shard=shard, **kept)


def settings(encoder: Encoder, options: EngineOptions) -> tuple[str, str, int, int]:
    """(device, precision, batch size, chunk size), resolved."""
    device = resolve_device(options.device)
    precision = resolve_precision(options.precision, device)
    batch_size = options.batch_size or default_batch_size(device, encoder.tower)
    return device, precision, batch_size, chunk_size(options.chunk_items, encoder.tower)


def cache_entry(
    cache: EmbeddingCache, encoder: Encoder, options: EngineOptions, plan: Plan | None, data: str
) -> CacheEntry:
    """The entry of this key (a stream, ``plan`` None: keyed without its ids)."""
    device, precision, _, size = settings(encoder, options)
    items: dict[str, object] = {"stream": True}
    if plan is not None:
        items = {"n_items": plan.n, "ids": ids_digest(plan.ids)}
    decode = decode_key(encoder, options.decode)  # fast, gpu: other pixels
    parts = {
        "model_id": encoder.model_id,
        "encoder": dict(encoder.fingerprint),
        "tower": encoder.tower,
        "dim": encoder.dim,
        "data": data,
        **items,
        "precision": precision,
        "device_type": "cuda" if device.startswith("cuda") else "cpu",
        "chunk_size": size,
        **({"decode": decode} if decode else {}),
    }
    return cache.entry(parts, label=f"{encoder.model_id}-{encoder.tower}")


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
    run, shard = _Run(encoder, options, cache, data_fingerprint, loader), options.shard
    if shard.synced:
        _meet(run, items)
    else:
        run.compute(items)
    plan, entry, mine = run.plan, run.entry, run.mine
    where = str(entry.path) if entry is not None else None
    if not shard.assembles:
        return ShardWork(
            encoder.model_id, encoder.tower, shard, tuple(mine), len(mine) - len(run.cached),
            _items_in(plan, mine), plan.n_chunks, time.perf_counter() - t0, where,
            tuple(run.notes),
        )  # fmt: skip
    scratch = entry.path if entry is not None else None
    emb, kept_ids, skipped = assemble(plan, run.done, run.say, scratch)
    elapsed = time.perf_counter() - t0
    return Extraction(
        emb, tuple(kept_ids), tuple(skipped), encoder.model_id, encoder.tower, run.device,
        run.precision, run.batch_size, run.workers, elapsed,
        plan.n / elapsed if elapsed > 0 else float("inf"), run.n_cached / plan.n, where,
        tuple(run.notes),
    )  # fmt: skip


def _items_in(plan: Plan, chunks: Iterable[int]) -> int:
    return sum(plan.bounds(c)[1] - plan.bounds(c)[0] for c in chunks)


def _meet(run: _Run, items: Sequence[Item] | Iterable[Item]) -> None:
    """Under torchrun: this rank's share, then the meeting; rank 0 reads every other chunk."""
    shard = run.options.shard
    try:
        run.compute(items)
        error = None
    except (Exception, KeyboardInterrupt) as exc:
        error = exc
    messages = meet("chunks", error, run.n_cached)
    assert run.entry is not None
    run.n_cached = sum(int(m.data or 0) for m in messages)
    if not shard.assembles:
        return
    plan, entry = run.plan, run.entry  # rank 0 reads every chunk the other ranks wrote
    rest = [c for c in range(plan.n_chunks) if c not in run.done]
    wait_for([entry.chunk_paths(c)[1] for c in rest])
    problems: list[str] = []
    run.done.update(entry.read_chunks(plan, run.encoder.dim, problems.append, rest))
    missing = [c for c in rest if c not in run.done]
    if missing:
        ranks = ", ".join(str(r) for r in sorted({c % shard.world for c in missing}))
        why = f" ({problems[0]})" if problems else ""
        raise BadInputError(
            f"rank 0 cannot read {len(missing)} cache chunk(s) that rank(s) {ranks} wrote in "
            f"{entry.path}{why}: {SHARED_HINT}"
        )


class _Run:
    """One call: its settings, cache entry, notes and this process's chunks (cached or
    computed)."""

    def __init__(
        self,
        encoder: Encoder,
        options: EngineOptions,
        cache: EmbeddingCache | None,
        data: str | None,
        load: LoadItem | None,
    ) -> None:
        self.encoder, self.options, self.cache, self.data = encoder, options, cache, data
        self.load = load or default_loader(encoder.tower)
        self.device, self.precision, self.bs, self.size = settings(encoder, options)
        self.notes: list[str] = []
        self.ids: list[str] = []
        self.seen: set[str] = set()
        self.entry: CacheEntry | None = None
        self.mine: list[int] = []
        self.cached: list[int] = []
        self.error: BaseException | None = None  # what stopped a stream, raised at the end
        self.advance: Any = lambda k: None
        self.workers = self.n_cached = 0
        self.plan = Plan((), self.bs, self.size)
        self.writer = ChunkWriter(self.ids, self.size, None, encoder.dim, self.device)
        self.done = self.writer.done

    def say(self, message: str) -> None:
        self.notes.append(message)
        note(f"[yellow]{markup_safe(message)}[/yellow]")

    def compute(self, items: Sequence[Item] | Iterable[Item]) -> None:
        self.known = known = isinstance(items, Sequence)
        shard, options, enc = self.options.shard, self.options, self.encoder
        if known:
            check_items(items, enc.tower)  # type: ignore[arg-type]
            self.plan = make_plan([it.id for it in items], self.bs, self.size)  # type: ignore[union-attr]
        if self.cache is None and shard.mode != "single":
            how = "--shard" if shard.mode == "job" else "torchrun"
            raise BadInputError(
                f"{how} needs the embedding cache: it is where the pieces meet; drop --no-cache"
            )
        if self.cache is not None:
            data = self.data
            if known:
                data = data or fingerprint_items("items", items)  # type: ignore[arg-type]
            elif data is None:
                raise BadInputError(
                    "a stream of items is cached under its data fingerprint: pass "
                    "data_fingerprint (the source's fingerprint), or a list of items, or no cache"
                )
            keyed = self.plan if known else None
            self.entry = cache_entry(self.cache, enc, options, keyed, data).open()
        self.writer.entry = self.entry
        source: Any = items
        if known:
            self.ids += self.plan.ids
            batches: Any = []
            for c in owned_chunks(self.plan, shard.rank, shard.world):
                start, stop = self.plan.bounds(c)
                batches += self._claim(c, start, items[start:stop])  # type: ignore[index]
            if not batches:
                self._finish(self.bs)
                return
        else:
            batches, source = self._sampler(items), ()  # batches carry the stream's items
        loader, prep, self.workers = make_loader(
            source, enc, self.load, batches, replace(options, device=self.device), self.say
        )
        runner = Runner(enc, self.device, self.precision, self.bs, self.say, prep)
        if options.compile:
            runner.compile()
        total = _items_in(self.plan, self.mine) if known else item_count(items)
        tag = "" if shard.mode == "single" else f" ({shard.label})"
        with steps(f"{enc.model_id} {enc.tower}{tag}", total, unit="items") as advance:
            self.advance = advance
            if known:
                advance(_items_in(self.plan, self.cached))
            self._feed(runner, loader)
        self._finish(runner.batch_size)

    def _finish(self, batch_size: int) -> None:
        if not self.known:
            if not self.ids:
                raise BadInputError("no items to embed")
            self.plan = make_plan(self.ids, self.bs, self.size)
        if not set(self.mine) - set(self.cached):  # nothing computed
            batch_size, self.workers = self.bs, 0
        self.batch_size = batch_size
        self.n_cached = _items_in(self.plan, self.cached)

    def _claim(self, c: int, start: int, chunk: Sequence[Item]) -> list[list[int]]:
        """This process's chunk ``c`` (``chunk``, from item ``start``): cached, or its batches."""
        self.mine.append(c)
        if self.entry is not None:
            ids, dim = [it.id for it in chunk], self.encoder.dim
            found, problem = self.entry.read_chunk(c, start, start + len(chunk), ids, dim)
            if found is not None:
                if self.options.strict:
                    raise_if_skipped([(i, r) for _, i, r in found.skipped])
                self.done[c] = found
                self.cached.append(c)
                self.advance(len(chunk))
                return []
            if problem is not None:
                self.say(f"cache chunk {c} is corrupt ({problem}); recomputing it")
        bucket = self.options.bucket and self.encoder.tower == "text"
        lengths = text_lengths(chunk, self.encoder.collate) if bucket else None
        local = make_plan([it.id for it in chunk], self.bs, self.size)
        out = [[start + i for i in b] for b in local.batches([0], lengths)]
        self.writer.expect(out)
        return out

    def _sampler(self, items: Iterable[Item]) -> Iterator[list[tuple[int, Item]]]:
        """A stream's batches of ``(index, item)``, read chunk by chunk (chunk ``c`` is rank ``c
        mod world``'s); an error ends it (batches out are written)."""
        stream, shard = iter(items), self.options.shard
        for c in itertools.count():
            try:
                chunk = list(itertools.islice(stream, self.size))
                if not chunk:
                    return
                check_items(chunk, self.encoder.tower)
                ids = [it.id for it in chunk]
                dup = next((i for i in ids if i in self.seen), None)
                if dup is not None:
                    raise BadInputError(f"duplicate item id {dup!r}; ids must be unique")
                self.seen.update(ids)
                start = len(self.ids)
                self.ids += ids
                if c % shard.world == shard.rank:
                    batches = self._claim(c, start, chunk)
                else:
                    batches = []
                    self.advance(len(ids))
            except BaseException as exc:  # Ctrl-C or the source failing: finish what is out
                self.error = exc
                return
            for batch in batches:
                yield [(i, chunk[i - start]) for i in batch]
            chunk = []  # at most one chunk of items alive

    def _feed(self, runner: Runner, loader: Iterable[tuple]) -> None:
        writer, strict = self.writer, self.options.strict
        batches = iter(loader)
        try:
            with inference(runner.cuda):
                for indices, kept, batch, skipped in batches:
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
