"""JPEGs decoded by simplejpeg (the same pixels as PIL's), ``--decode fast``'s Resize +
CenterCrop by torch's antialiased uint8 kernel (within one level of PIL's), and a CPU image batch
loaded on threads between two forward passes (:class:`ThreadedBatches`)."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import numpy as np
import pytest

from infogauss_cli.data.sources.base import Item
from tests.support.encoders import image_items, make_image_encoder, write_images
from tests.support.images import _photo, _steps

pytest.importorskip("torchvision")


def _pil_pixels(item: Item) -> np.ndarray:
    from infogauss_cli.data.sources.images import load_image

    return np.asarray(load_image(item)).transpose(2, 0, 1)


@pytest.mark.parametrize(
    ("mode", "progressive"), [("RGB", False), ("RGB", True), ("L", False), ("CMYK", False)]
)
def test_jpeg_decoded_to_a_tensor_has_pils_pixels(tmp_path, mode, progressive):
    import torch

    from infogauss_cli.data.sources.images import load_image
    from infogauss_cli.extract.cpu_decode import SimpleJpeg

    p = tmp_path / "a.jpg"
    _photo(320, 240).convert(mode).save(p, quality=90, progressive=progressive)
    load = SimpleJpeg(load_image, tensor=True)
    for item in (Item(id="path", path=str(p)), Item(id="bytes", image=p.read_bytes())):
        x = load(item)
        if mode == "CMYK":  # simplejpeg's CMYK is not PIL's RGB: PIL decodes it
            assert x.mode == "RGB"
            x = torch.from_numpy(np.array(x).transpose(2, 0, 1))
        else:
            assert isinstance(x, torch.Tensor), "decoded by simplejpeg, not PIL"
            assert x.stride() == (1, 320 * 3, 3)  # CHW over the decoder's HWC array
        assert tuple(x.shape) == (3, 240, 320)
        np.testing.assert_array_equal(x.numpy(), _pil_pixels(item))


def test_jpeg_with_a_recoverable_error_takes_the_pil_path(tmp_path):
    """A JPEG whose entropy-coded data stops early but that still ends with the end marker:
    libjpeg-turbo warns; simplejpeg (strict) raises, and the item is PIL's to decode (as the
    exact path does)."""
    from infogauss_cli.data.sources.images import load_image
    from infogauss_cli.extract.cpu_decode import SimpleJpeg

    p = tmp_path / "a.jpg"
    _photo(320, 240).save(p, quality=90)
    data = p.read_bytes()
    (tmp_path / "short.jpg").write_bytes(data[: len(data) // 2] + b"\xff\xd9")
    item = Item(id="short", path=str(tmp_path / "short.jpg"))
    got = SimpleJpeg(load_image, tensor=True)(item)
    assert got.mode == "RGB", "PIL's image, not simplejpeg's tensor"
    np.testing.assert_array_equal(np.asarray(got).transpose(2, 0, 1), _pil_pixels(item))


def test_broken_and_other_files_take_the_pil_path(tmp_path):
    from infogauss_cli.data.sources.images import ImageLoadError, load_image
    from infogauss_cli.extract.cpu_decode import SimpleJpeg

    good = tmp_path / "a.jpg"
    _photo(200, 150).save(good, quality=90)
    data = good.read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])  # no end marker: truncated
    (tmp_path / "junk.jpg").write_bytes(data[:3] + b"\x00" * 500 + b"\xff\xd9")  # rejected
    _photo(200, 150).save(tmp_path / "b.png")
    load = SimpleJpeg(load_image, tensor=True)
    for name in ("cut.jpg", "junk.jpg"):
        with pytest.raises(ImageLoadError):  # PIL's error, the item skipped and named
            load(Item(id=name, path=str(tmp_path / name)))
    png = load(Item(id="b", path=str(tmp_path / "b.png")))
    assert png.mode == "RGB"  # a PIL image: TensorResizeCrop converts it
    with pytest.raises(ImageLoadError, match="file not found"):
        load(Item(id="gone", path=str(tmp_path / "gone.jpg")))


@pytest.mark.parametrize(
    ("w", "h", "size", "crop", "interp"),
    [
        (640, 480, 256, 224, "bicubic"),  # timm's efficientnet / resnet eval transform
        (427, 640, 224, 224, "bicubic"),  # open_clip's
        (500, 375, 232, 224, "bilinear"),
        (640, 512, (240, 300), (224, 256), "bicubic"),
    ],
)
def test_tensor_resize_crop_is_within_one_level_of_pil(tmp_path, w, h, size, crop, interp):
    from torchvision import transforms as T

    from infogauss_cli.data.sources.images import load_image
    from infogauss_cli.extract.cpu_decode import (
        SimpleJpeg,
        TensorResizeCrop,
        ToUint8,
        resize_crop_params,
    )

    p = tmp_path / "a.jpg"
    _photo(w, h).save(p, quality=90)
    exact = _steps(size, crop, interp)
    item = Item(id="a", path=str(p))
    want = exact(load_image(item)).numpy().astype(int)
    step = TensorResizeCrop(*resize_crop_params(T.Compose([*exact.transforms[:2], ToUint8()])))
    got = step(SimpleJpeg(load_image, tensor=True)(item))
    assert got.dtype.is_floating_point is False and got.shape == want.shape
    diff = np.abs(got.numpy().astype(int) - want)
    assert diff.max() <= 1 and (diff > 0).mean() < 0.03
    np.testing.assert_array_equal(step(load_image(item)).numpy(), got.numpy())  # PIL input


def test_which_transforms_take_the_tensor_path():
    import timm
    from torchvision import transforms as T

    from infogauss_cli.extract.cpu_decode import decode_key

    enc = make_image_encoder()
    assert decode_key(enc, "fast") == "tensor"
    assert decode_key(enc, "exact") is None and decode_key(enc, "cpu") is None
    open_clip = pytest.importorskip("open_clip")
    oc = replace(enc, prepare=open_clip.image_transform(224, is_train=False))
    assert decode_key(oc, "fast") == "tensor"  # its conversion to RGB keeps an RGB image
    cfg = timm.data.resolve_data_config({"input_size": (3, 32, 32), "interpolation": "lanczos"})
    lanczos = replace(enc, prepare=timm.data.create_transform(**cfg))
    assert decode_key(lanczos, "fast") is None
    steps = enc.prepare.transforms
    gray = replace(enc, prepare=T.Compose([*steps[:2], T.Grayscale(3), *steps[2:]]))
    assert decode_key(gray, "fast") is None  # a step the tensor path would skip


def test_threaded_batches_keep_order_and_use_threads():
    from infogauss_cli.extract.loader import ThreadedBatches

    names: set[str] = set()
    barrier = threading.Barrier(2, timeout=10)

    class Data:
        def __getitem__(self, i):
            names.add(threading.current_thread().name)
            if i < 2:
                barrier.wait()  # the first two items load at the same time, or this fails
            return i * 10

    batches = [[0, 1, 2], [3, 4], [5]]
    loader = ThreadedBatches(Data(), list, batches, threads=2)
    assert list(loader) == [[0, 10, 20], [30, 40], [50]]
    assert len(names) == 2 and all(n.startswith("infogauss-load") for n in names)


def test_threaded_batches_stop_when_the_consumer_does():
    from infogauss_cli.extract.loader import ThreadedBatches

    seen: list[int] = []

    class Data:
        def __getitem__(self, i):
            seen.append(i)
            return i

    batches = [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]]
    it = iter(ThreadedBatches(Data(), list, batches, threads=2, group_items=4))
    assert next(it) == [0, 1] and sorted(seen) == [0, 1]  # the first batch alone
    assert next(it) == [2, 3] and sorted(seen) == [0, 1, 2, 3, 4, 5]  # a group of two batches
    assert next(it) == [4, 5] and sorted(seen) == list(range(6))  # taken from the group
    it.close()  # Ctrl-C in the forward pass: the pool shuts down, nothing more is loaded
    assert sorted(seen) == list(range(6))
    assert not [t for t in threading.enumerate() if t.name.startswith("infogauss-load")]


def test_threaded_batches_drop_the_rest_of_a_group_on_an_error():
    from infogauss_cli.extract.loader import ThreadedBatches

    seen: list[int] = []

    class Data:
        def __getitem__(self, i):
            if i == 0:
                raise KeyboardInterrupt  # Ctrl-C while the group loads
            time.sleep(0.3)  # item 1 is loading when the error reaches the consumer
            seen.append(i)
            return i

    loader = ThreadedBatches(Data(), list, [[9], [0, 1], [2, 3], [4, 5]], threads=1)
    it = iter(loader)
    assert next(it) == [9]
    with pytest.raises(KeyboardInterrupt):
        next(it)
    assert set(seen) <= {9, 1}  # items 2-5 of the group were never started
    assert not [t for t in threading.enumerate() if t.name.startswith("infogauss-load")]


def test_threaded_batches_bound_a_group_by_its_inputs_bytes():
    import numpy as np

    from infogauss_cli.extract.loader import ThreadedBatches, nbytes

    sizes: list[int] = []

    class Data:
        def __getitem__(self, i):
            return {"pixels": np.zeros(1000, np.uint8), "ids": (np.zeros(24, np.int64), "x")}

    def collate(samples):
        sizes.append(len(samples))
        return samples

    assert nbytes(Data()[0]) == 1192 and nbytes("text") == 0
    batches = [[i, i + 1] for i in range(0, 20, 2)]
    loader = ThreadedBatches(Data(), collate, batches, threads=2, group_items=8, group_bytes=5000)
    assert len(list(loader)) == 10 and sizes == [2] * 10  # whole batches, in order
    groups = ThreadedBatches(Data(), list, batches, threads=2, group_items=8, group_bytes=5000)
    it = iter(groups)
    next(it)
    assert groups.group_items == 4  # 5000 bytes of 1192-byte inputs: 4 items (8 without)


def test_loading_threads(monkeypatch):
    import torch

    from infogauss_cli.extract.loader import loading_threads

    monkeypatch.setattr(torch, "get_num_threads", lambda: 12)
    assert loading_threads("cpu", "image") == 8
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    assert loading_threads("cpu", "image") == 2
    assert loading_threads("cpu", "text") == 1 and loading_threads("cuda:0", "image") == 1


def test_threads_and_worker_processes_give_the_same_bits(tmp_path):
    from infogauss_cli.extract.engine import extract
    from infogauss_cli.extract.plan import EngineOptions

    write_images(tmp_path / "imgs", 10, size=(60, 80))
    _photo(640, 480).convert("L").save(tmp_path / "imgs" / "gray.jpg")
    _photo(64, 48).save(tmp_path / "imgs" / "p.png")
    (tmp_path / "imgs" / "z.jpg").write_bytes(b"\xff\xd8\xff broken")
    items = image_items(tmp_path / "imgs")
    o = EngineOptions(batch_size=4, device="cpu", workers=0)
    threads = extract(make_image_encoder(), items, o)
    procs = extract(make_image_encoder(), items, replace(o, workers=1))
    exact = extract(make_image_encoder(), items, replace(o, decode="exact"))
    assert threads.ids == procs.ids == exact.ids and len(threads.ids) == 12
    assert [s[0] for s in threads.skipped] == ["z.jpg"] == [s[0] for s in exact.skipped]
    np.testing.assert_array_equal(threads.embeddings, procs.embeddings)
    np.testing.assert_array_equal(threads.embeddings, exact.embeddings)  # the default is exact
