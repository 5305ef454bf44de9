"""The extraction engine: resolution of compute options, batching, skipping, OOM back-off,
precision, progress, interruption. Tiny real models built offline (timm test models, a tiny
BERT); the helpers here are reused by the other test_extract*/test_store* files."""

from __future__ import annotations

import io

import numpy as np
import pytest

from infogauss_cli.core.errors import BadInputError, RunError
from infogauss_cli.data.sources.base import Item
from infogauss_cli.extract.plan import EngineOptions
from tests.support.encoders import (
    OOMForward,
    hash_tokenize,
    image_items,
    make_image_encoder,
    make_text_encoder,
    write_images,
)

# ---- helpers shared by the extraction tests ----------------------------------------------------


@pytest.fixture(scope="module")
def image_encoder():
    return make_image_encoder()


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    write_images(folder, 20)
    return folder


# ---- device / precision resolution -------------------------------------------------------------


def test_resolve_device(monkeypatch):
    import torch

    from infogauss_cli.extract.runner import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu"
    assert resolve_device("CPU") == "cpu"
    for bad in ("cuda", "cuda:0"):
        with pytest.raises(BadInputError, match="no CUDA device"):
            resolve_device(bad)
    for bad in ("tpu", "mps", "cuda:x", ""):
        if bad:
            with pytest.raises(BadInputError, match="device"):
                resolve_device(bad)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("auto") == "cuda:0"
    assert resolve_device("cuda") == "cuda:0"
    assert resolve_device("cuda:1") == "cuda:1"
    with pytest.raises(BadInputError, match="only 2 CUDA"):
        resolve_device("cuda:2")


def test_resolve_precision(monkeypatch):
    import torch

    from infogauss_cli.extract.runner import resolve_precision

    assert resolve_precision("auto", "cpu") == "fp32"
    assert resolve_precision("fp32", "cpu") == "fp32"
    assert resolve_precision("bf16", "cpu") == "bf16"
    with pytest.raises(BadInputError, match="fp16 needs CUDA"):
        resolve_precision("fp16", "cpu")
    with pytest.raises(BadInputError, match="precision"):
        resolve_precision("int8", "cpu")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert resolve_precision("auto", "cuda:0") == "bf16"
    assert resolve_precision("fp16", "cuda:0") == "fp16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert resolve_precision("auto", "cuda:0") == "fp16"


def test_defaults_and_chunking():
    from infogauss_cli.extract.loader import default_workers
    from infogauss_cli.extract.plan import chunk_size, make_plan
    from infogauss_cli.extract.runner import default_batch_size

    assert default_batch_size("cpu", "image") == 16
    assert default_batch_size("cuda:0", "image") == 256
    assert default_workers("cpu", "text") == 0
    assert default_workers("cuda:0", "image") >= 1
    assert default_workers("cpu", "image") == 0  # CPU images: loading threads
    # chunks do not depend on the batch size (the cache key holds no batch size)
    assert chunk_size() == 512 and chunk_size(None, "text") == 2048
    ids = [str(k) for k in range(1000)]
    assert {make_plan(ids, bs).chunk_size for bs in (1, 24, 32, 1000)} == {512}
    assert make_plan(ids, 4, 10).chunk_size == 10


# ---- extraction --------------------------------------------------------------------------------


def test_extract_matches_manual_forward(image_encoder, images):
    import torch
    from PIL import Image

    from infogauss_cli.extract.engine import extract

    items = image_items(images)
    # decode="exact": the model's transforms step by step, as the manual loop below
    opts = EngineOptions(batch_size=8, workers=0, decode="exact")
    res = extract(image_encoder, items, opts)
    assert res.embeddings.dtype == np.float32
    assert res.embeddings.shape == (20, image_encoder.dim)
    assert res.ids == tuple(it.id for it in items)
    assert res.device == "cpu" and res.precision == "fp32" and res.batch_size == 8
    assert res.skipped == () and res.from_cache == 0.0 and res.items_per_s > 0
    manual = []
    with torch.inference_mode():
        for start in range(0, 20, 8):
            xs = [
                image_encoder.prepare(Image.open(it.path).convert("RGB"))
                for it in items[start : start + 8]
            ]
            manual.append(image_encoder.module(torch.stack(xs)).numpy())
    np.testing.assert_allclose(res.embeddings, np.concatenate(manual), rtol=1e-5, atol=1e-5)


def test_workers_do_not_change_bits(image_encoder, images):
    from infogauss_cli.extract.engine import extract

    items = image_items(images)
    a = extract(image_encoder, items, EngineOptions(batch_size=4, workers=0))
    b = extract(image_encoder, items, EngineOptions(batch_size=4, workers=2))
    assert b.workers == 2
    assert np.array_equal(a.embeddings, b.embeddings)


def test_corrupt_images_are_skipped_and_named(image_encoder, tmp_path):
    from infogauss_cli.extract.engine import extract

    write_images(tmp_path, 6)
    (tmp_path / "empty.jpg").write_bytes(b"")
    good = (tmp_path / "img000.jpg").read_bytes()
    (tmp_path / "truncated.jpg").write_bytes(good[: len(good) // 2])
    (tmp_path / "notimage.png").write_bytes(b"this is not a png at all" * 10)
    items = image_items(tmp_path)
    res = extract(image_encoder, items, EngineOptions(batch_size=4, workers=1))
    assert res.embeddings.shape == (6, image_encoder.dim)
    assert all(i.startswith("img") for i in res.ids)
    reasons = dict(res.skipped)
    assert set(reasons) == {"empty.jpg", "truncated.jpg", "notimage.png"}
    assert "empty" in reasons["empty.jpg"]
    assert "truncated" in reasons["truncated.jpg"]
    assert np.isfinite(res.embeddings).all()


def test_all_items_unreadable_is_a_run_error(image_encoder, tmp_path):
    from infogauss_cli.extract.engine import extract

    (tmp_path / "a.jpg").write_bytes(b"")
    (tmp_path / "b.jpg").write_bytes(b"xx")
    with pytest.raises(RunError, match="none of the 2 items"):
        extract(image_encoder, image_items(tmp_path), EngineOptions(workers=0))


def test_bad_item_lists(image_encoder):
    from infogauss_cli.extract.engine import extract

    with pytest.raises(BadInputError, match="no items"):
        extract(image_encoder, [])
    dup = [Item("a", path="x.jpg"), Item("a", path="y.jpg")]
    with pytest.raises(BadInputError, match="duplicate"):
        extract(image_encoder, dup)
    with pytest.raises(BadInputError, match="needs images"):
        extract(image_encoder, [Item("a", text="hello")])
    with pytest.raises(BadInputError, match="batch-size"):
        extract(image_encoder, [Item("a", path="x.jpg")], EngineOptions(batch_size=0))
    with pytest.raises(BadInputError, match="fp16"):
        extract(
            image_encoder,
            [Item("a", path="x.jpg")],
            EngineOptions(precision="fp16"),
        )


def test_wrong_output_shape_is_a_run_error(images):
    from infogauss_cli.extract.engine import extract

    enc = make_image_encoder()
    enc.dim = 7
    with pytest.raises(RunError, match=r"expected \(4, 7\)"):
        extract(enc, image_items(images)[:4], EngineOptions(batch_size=4, workers=0))


def test_oom_backs_off_by_halving(images):
    from rich.console import Console

    from infogauss_cli.cli.errors import RichChannel
    from infogauss_cli.core.progress import listening
    from infogauss_cli.extract.engine import extract

    items = image_items(images)
    ref = extract(make_image_encoder(), items, EngineOptions(batch_size=2, workers=0))
    fwd = OOMForward(limit=3)
    out = io.StringIO()
    with listening(RichChannel(Console(file=out, width=200))):
        res = extract(
            make_image_encoder(forward=fwd), items, EngineOptions(batch_size=8, workers=0)
        )
    assert res.batch_size == 2  # 8 -> 4 -> 2
    assert fwd.sizes[:3] == [8, 4, 2]
    assert max(fwd.sizes[3:]) <= 2
    assert res.ids == ref.ids
    np.testing.assert_allclose(res.embeddings, ref.embeddings, rtol=1e-5, atol=1e-5)
    text = out.getvalue()
    assert "out of memory at batch size 8; backing off to 4" in text
    assert "backing off to 2" in text
    assert any("backing off" in note for note in res.notes)


def test_oom_at_batch_size_one_is_a_run_error(images):
    from infogauss_cli.extract.engine import extract

    enc = make_image_encoder(forward=OOMForward(limit=0))
    with pytest.raises(RunError, match="out of memory even with batch size 1"):
        extract(enc, image_items(images)[:4], EngineOptions(batch_size=4, workers=0))


def test_bf16_on_cpu_casts_a_copy_of_the_weights(images):
    import torch

    from infogauss_cli.extract.engine import extract

    enc = make_image_encoder()
    items = image_items(images)[:8]
    ref = extract(enc, items, EngineOptions(batch_size=8, workers=0))
    res = extract(enc, items, EngineOptions(batch_size=8, workers=0, precision="bf16"))
    assert res.precision == "bf16" and res.embeddings.dtype == np.float32
    assert all(p.dtype == torch.float32 for p in enc.module.parameters())  # caller's untouched
    rel = np.linalg.norm(res.embeddings - ref.embeddings) / np.linalg.norm(ref.embeddings)
    assert 0 < rel < 0.05


def test_text_tower_tokenises_in_batches(tmp_path):
    from infogauss_cli.data.sources.text import TextFileSource
    from infogauss_cli.extract.engine import extract

    lines = [f"caption number {i} about a cat on a mat" for i in range(10)]
    (tmp_path / "c.txt").write_text("\n".join(lines[:5]) + "\n\n  \n" + "\n".join(lines[5:]))
    src = TextFileSource(tmp_path / "c.txt")
    enc = make_text_encoder()
    seen = []

    def collate(texts):
        seen.append(len(texts))
        return hash_tokenize(texts)

    enc.collate = collate
    res = extract(enc, src.items("text"), EngineOptions(batch_size=4, workers=0))
    assert src.ignored("text") == {"empty line": 2}
    assert res.embeddings.shape == (10, 32)
    assert res.ids[:6] == ("line:1", "line:2", "line:3", "line:4", "line:5", "line:8")
    assert seen == [4, 4, 2]
    assert np.isfinite(res.embeddings).all()


def test_progress_bar_only_when_asked_and_on_a_terminal(image_encoder, images, capsys):
    """The engine reports one step of items (the CLI renders it as a bar with items/s); with
    no front end listening nothing is printed."""
    from contextlib import contextmanager

    from infogauss_cli.core.progress import listening
    from infogauss_cli.extract.engine import extract

    class Recording:
        def __init__(self):
            self.steps, self.done = [], 0

        @contextmanager
        def step(self, label, total, unit):
            self.steps.append((label, total, unit))

            def advance(n=1, **_):
                self.done += n

            yield advance

        def note(self, text):
            pass

    items = image_items(images)[:8]
    seen = Recording()
    with listening(seen):
        extract(image_encoder, items, EngineOptions(batch_size=4, workers=0))
    assert seen.steps == [("test_resnet image", 8, "items")] and seen.done == 8
    extract(image_encoder, items, EngineOptions(batch_size=4, workers=0))
    assert capsys.readouterr() == ("", "")


def test_keyboard_interrupt_keeps_cache_and_resumes(images, tmp_path):
    from infogauss_cli.extract.engine import extract

    items = image_items(images)
    calls = {"n": 0}

    def flaky(module, batch):
        calls["n"] += 1
        if calls["n"] == 4:  # chunks hold 2 batches of 4: chunk 0 done, chunk 1 half done
            raise KeyboardInterrupt
        return module(batch["pixels"])

    opts = EngineOptions(batch_size=4, workers=0, chunk_items=8)
    kw = {}
    with pytest.raises(RunError, match=r"interrupted; rerun the same command to resume \(8 of 20"):
        extract(make_image_encoder(forward=flaky), items, opts, cache=tmp_path / "c", **kw)
    res = extract(make_image_encoder(), items, opts, cache=tmp_path / "c", **kw)
    assert res.from_cache == pytest.approx(8 / 20)
    ref = extract(make_image_encoder(), items, opts, **kw)
    assert np.array_equal(res.embeddings, ref.embeddings) and res.ids == ref.ids


def test_select_items_and_resolve_towers(tmp_path):
    from infogauss_cli.data.sources.images import ImageFolderSource
    from infogauss_cli.extract.model import resolve_towers, select_items

    items = [Item(f"i{k}", path="x") for k in range(50)]
    sub = select_items(items, 10, seed=1)
    assert len(sub) == 10 and sub == sorted(sub, key=lambda it: int(it.id[1:]))
    assert sub == select_items(items, 10, seed=1) and sub != select_items(items, 10, seed=2)
    assert select_items(items, None) == items and select_items(items, 99) == items
    write_images(tmp_path, 1)
    src = ImageFolderSource(tmp_path)
    assert resolve_towers(["image", "text"], src, "all") == ["image"]
    assert resolve_towers(["image"], src, "image") == ["image"]
    with pytest.raises(BadInputError, match="gives"):
        resolve_towers(["text"], src, "all")
    with pytest.raises(BadInputError, match="no text tower"):
        resolve_towers(["image"], src, "text")
    with pytest.raises(BadInputError, match="cannot feed the text"):
        resolve_towers(["image", "text"], src, "text")


def test_tower_mismatch_names_the_model_and_the_data(tmp_path):
    from infogauss_cli.data.sources.images import ImageFolderSource
    from infogauss_cli.extract.model import resolve_towers

    write_images(tmp_path, 1)
    src = ImageFolderSource(tmp_path)
    with pytest.raises(BadInputError) as info:
        resolve_towers(["text"], src, "all", "minilm-l6")
    assert str(info.value) == (
        f"model minilm-l6 has only the text tower, but data {src.name} gives image"
    )
