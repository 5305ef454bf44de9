"""A stream of items (a generator, not a list) is extracted chunk by chunk: the same matrix as
the list, a cache keyed without the ids, resume after an interruption, bounded memory,
sharding, and the seeded subset of a stream of unknown length."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from infogauss_cli.core.errors import BadInputError, RunError
from infogauss_cli.data.sources.base import Item
from infogauss_cli.extract.distributed import Shard
from infogauss_cli.extract.engine import extract
from infogauss_cli.extract.model import select_items
from infogauss_cli.extract.plan import EngineOptions
from infogauss_cli.extract.result import ShardWork
from tests.support.encoders import make_text_encoder, mean_pool_forward

N = 29  # 3.6 chunks of 8
OPTS = EngineOptions(batch_size=4, workers=0, chunk_items=8)
KW = {}


def _items(n: int = N) -> list[Item]:
    return [Item(f"s{k:03d}", text=f"sentence {k} says {'word ' * (k % 5)}") for k in range(n)]


def _stream(n: int = N, stop_after: int | None = None, error: type = KeyboardInterrupt):
    """A generator of the items; raises ``error`` once ``stop_after`` items were yielded."""
    for k, item in enumerate(_items(n)):
        if stop_after is not None and k == stop_after:
            raise error("the source went away")
        yield item


class Counting:
    """The test encoder's forward, counting the rows it embeds."""

    def __init__(self) -> None:
        self.rows = 0

    def __call__(self, module, batch):
        out = mean_pool_forward(module, batch)
        self.rows += int(out.shape[0])
        return out


def _encoder(counter: Counting | None = None):
    enc = make_text_encoder()
    if counter is not None:
        enc.forward = counter
    return enc


@pytest.fixture(scope="module")
def ref():
    return extract(_encoder(), _items(), OPTS, **KW)


def test_a_stream_equals_the_list_bit_for_bit(ref, tmp_path):
    res = extract(_encoder(), _stream(), OPTS, **KW)
    assert res.ids == ref.ids and np.array_equal(res.embeddings, ref.embeddings)
    two = extract(_encoder(), _stream(), replace(OPTS, workers=2), **KW)  # items sent along
    assert two.workers == 2 and np.array_equal(two.embeddings, ref.embeddings)
    cached = extract(_encoder(), _stream(), OPTS, cache=tmp_path, data_fingerprint="s", **KW)
    assert cached.from_cache == 0 and np.array_equal(cached.embeddings, ref.embeddings)
    count = Counting()
    again = extract(_encoder(count), _stream(), OPTS, cache=tmp_path, data_fingerprint="s", **KW)
    assert again.from_cache == 1.0 and count.rows == 0
    assert np.array_equal(again.embeddings, ref.embeddings)
    (entry,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    meta = json.loads((entry / "meta.json").read_text())["parts"]
    assert meta["stream"] is True and "ids" not in meta and "n_items" not in meta
    # the list keeps its own key (ids in it): no cache entry shared, none invalidated
    listed = extract(_encoder(), _items(), OPTS, cache=tmp_path, data_fingerprint="s", **KW)
    assert listed.from_cache == 0 and np.array_equal(listed.embeddings, ref.embeddings)


@pytest.mark.parametrize("error", [KeyboardInterrupt, OSError])
def test_an_interrupted_stream_keeps_its_chunks_and_resumes(ref, tmp_path, error):
    cache = {"cache": tmp_path, "data_fingerprint": "s"}
    want = RunError if error is KeyboardInterrupt else OSError
    with pytest.raises(want, match=r"rerun the same command|went away"):
        extract(_encoder(), _stream(stop_after=19, error=error), OPTS, **cache, **KW)
    assert len(list(tmp_path.glob("*/chunk-*.json"))) == 2  # chunks 0 and 1 (16 items)
    count = Counting()
    res = extract(_encoder(count), _stream(), OPTS, **cache, **KW)
    assert count.rows == N - 16  # only the rest was computed
    assert res.from_cache == pytest.approx(16 / N)
    assert res.ids == ref.ids and np.array_equal(res.embeddings, ref.embeddings)


def test_a_stream_holds_about_one_chunk_of_payloads(tmp_path):
    """Items carry a 1 MB payload that counts itself; at most ~one chunk of them is alive."""
    alive = {"now": 0, "peak": 0}

    class Payload:
        def __init__(self) -> None:
            self.data = bytearray(1 << 20)
            alive["now"] += 1
            alive["peak"] = max(alive["peak"], alive["now"])

        def __del__(self) -> None:
            alive["now"] -= 1

    def stream():
        for k in range(100):
            yield Item(f"p{k}", text=f"item {k}", image=Payload())

    res = extract(_encoder(), stream(), OPTS, cache=tmp_path, data_fingerprint="p", **KW)
    assert res.n == 100
    assert alive["peak"] <= 8 + 1, alive  # one chunk of 8, plus the item being read
    alive["peak"] = 0
    extract(_encoder(), list(stream()), OPTS, **KW)  # the list path: everything at once
    assert alive["peak"] == 100


def test_a_sharded_stream_then_a_plain_run_recompute_nothing(ref, tmp_path):
    cache = {"cache": tmp_path, "data_fingerprint": "s"}
    opts = [replace(OPTS, shard=Shard(k, 2, 0, "job")) for k in range(2)]
    works = [extract(_encoder(), _stream(), o, **cache, **KW) for o in opts]
    assert all(isinstance(w, ShardWork) for w in works)
    assert [w.chunks for w in works] == [(0, 2), (1, 3)] and works[1].items == 13
    count = Counting()
    full = extract(_encoder(count), _stream(), OPTS, **cache, **KW)
    assert full.from_cache == 1.0 and count.rows == 0
    assert np.array_equal(full.embeddings, ref.embeddings)


def test_stream_errors(tmp_path):
    with pytest.raises(BadInputError, match="data fingerprint"):
        extract(_encoder(), _stream(), OPTS, cache=tmp_path, **KW)
    with pytest.raises(BadInputError, match="no items"):
        extract(_encoder(), iter([]), OPTS, **KW)
    dup = iter([*_items(10), Item("s003", text="again")])
    with pytest.raises(BadInputError, match="duplicate item id 's003'"):
        extract(_encoder(), dup, OPTS, **KW)
    with pytest.raises(BadInputError, match="needs text"):
        extract(_encoder(), iter([Item("a", path="x.jpg")]), OPTS, **KW)


def test_a_subset_of_a_stream_of_unknown_length():
    ids = [it.id for it in _items(60)]
    sub = select_items(_stream(60), 10, seed=4)
    assert len(sub) == 10 and [i.id for i in sub] == sorted(i.id for i in sub)  # stream order
    assert sub == select_items(_stream(60), 10, seed=4)  # seeded
    assert sub != select_items(_stream(60), 10, seed=5)
    assert [i.id for i in select_items(_stream(8), 10, seed=4)] == ids[:8]  # fewer: all
    stream = _stream(60)
    assert select_items(stream, None) is stream  # no --n: the stream stays a stream
    # uniform: every item is kept with probability n/N (seeded Monte Carlo, 3 sigma)
    counts = np.zeros(60)
    for seed in range(600):
        for item in select_items(_stream(60), 10, seed=seed):
            counts[int(item.id[1:])] += 1
    p = 10 / 60
    assert np.abs(counts / 600 - p).max() < 3 * np.sqrt(p * (1 - p) / 600) + 0.01


@pytest.fixture
def hf_parquet(tmp_path, monkeypatch):
    """A local parquet dataset of 30 captions (row 4 empty), read offline."""
    datasets = pytest.importorskip("datasets")
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-cache")
    rows = [f"caption number {i} {'x ' * (i % 4)}" if i != 4 else "" for i in range(30)]
    (tmp_path / "pq").mkdir()
    datasets.Dataset.from_dict({"caption": rows}).to_parquet(str(tmp_path / "pq" / "a.parquet"))
    return f"hf:{tmp_path / 'pq' / '*.parquet'}"


def test_hf_streaming_yields_lazily_and_embeds_like_the_list(hf_parquet, tmp_path):
    from collections.abc import Sequence

    from infogauss_cli.core.options import DataOptions
    from infogauss_cli.data.sources import ignored_counts, parse_data_spec

    plain = parse_data_spec(hf_parquet)
    streamed = parse_data_spec(hf_parquet, DataOptions(streaming=True))
    stream = streamed.items("text")
    assert not isinstance(stream, Sequence) and not hasattr(stream, "__len__")
    it = iter(stream)
    assert next(it).id == "row:0"  # read as it is asked for, not built first
    assert [i.id for i in stream] == [i.id for i in plain.items("text")]  # a second pass
    assert ignored_counts(streamed, "text") == ignored_counts(plain, "text") == {"empty text": 1}
    ref = extract(_encoder(), plain.items("text"), OPTS, **KW)
    fp = streamed.fingerprint("text")
    res = extract(_encoder(), stream, OPTS, cache=tmp_path / "c", data_fingerprint=fp, **KW)
    assert res.ids == ref.ids and np.array_equal(res.embeddings, ref.embeddings)
    strict = parse_data_spec(hf_parquet, DataOptions(streaming=True, strict=True)).items("text")
    with pytest.raises(BadInputError, match=r"row:4 with an empty text \(--strict\)"):
        list(strict)


def test_extract_model_keeps_a_stream_a_stream(monkeypatch):
    """--n with a stream of known length: the list's seeded subset; without --n: the stream
    itself reaches the engine (no list built)."""
    from infogauss_cli.core.options import Compute, Protocol, Request
    from infogauss_cli.extract import model

    class Source:
        name, towers = "toy", ("text",)

        def items(self, tower):
            return _stream()

        def fingerprint(self, tower):
            return "toy"

    seen = {}

    def fake_extract(encoder, items, options, **kw):
        seen["items"], seen["fp"], seen["options"] = items, kw["data_fingerprint"], options
        return "done"

    monkeypatch.setattr(model, "extract", fake_extract)
    enc = _encoder()
    request = Request(compute=Compute(use_cache=False))
    assert model.extract_model(None, Source(), "text", request, encoder=enc) == "done"
    assert not isinstance(seen["items"], list) and seen["fp"] == "toy"
    assert seen["options"] == EngineOptions(device="cpu")
    request = replace(request, protocol=Protocol(n=20, seed=1))
    model.extract_model(None, Source(), "text", request, encoder=enc)
    assert len(seen["items"]) == 20 and seen["fp"] == "toy:subset:20:1"
