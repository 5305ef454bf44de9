"""Decompression bombs: a tiny JPEG whose header declares a huge size is skipped with a clear
reason on every decode path, before any pixel is decoded."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pytest

from infogauss_cli.data.sources.base import Item
from infogauss_cli.data.sources.images import ImageLoadError, load_image


def _bomb(width: int, height: int) -> bytes:
    """A real 16 x 16 JPEG with its SOF header patched to declare ``width x height``."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(buf, "JPEG")
    data = bytearray(buf.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


@pytest.fixture(params=[(30_000, 30_000), (12_000, 12_000)], ids=["900MP", "144MP"])
def bomb(request, tmp_path):
    path = tmp_path / "bomb.jpg"
    path.write_bytes(_bomb(*request.param))
    assert path.stat().st_size < 3000
    return Item(id="bomb.jpg", path=str(path))


def _never(*args, **kwargs):
    raise AssertionError("a decompression bomb reached a decoder")


def test_pil_path_refuses_before_decoding(bomb, monkeypatch):
    from PIL import ImageFile

    monkeypatch.setattr(ImageFile.ImageFile, "load", _never)
    with pytest.raises(ImageLoadError, match="image too large") as info:
        load_image(bomb)
    assert "not decoded" in info.value.reason


def test_simplejpeg_path_refuses_before_decoding(bomb, monkeypatch):
    simplejpeg = pytest.importorskip("simplejpeg")
    from infogauss_cli.extract.cpu_decode import SimpleJpeg

    monkeypatch.setattr(simplejpeg, "decode_jpeg", _never)
    with pytest.raises(ImageLoadError, match="image too large"):
        SimpleJpeg(_never, tensor=True)(bomb)


def test_gpu_path_refuses_before_the_bytes_leave(bomb):
    from infogauss_cli.extract.loader import jpeg_or

    with pytest.raises(ImageLoadError, match="image too large"):
        jpeg_or(_never, bomb)


def test_encoded_bytes_in_memory_are_checked(bomb, monkeypatch):
    from PIL import ImageFile

    monkeypatch.setattr(ImageFile.ImageFile, "load", _never)
    item = Item(id="row 3", image=Path(bomb.path).read_bytes())
    with pytest.raises(ImageLoadError, match="image too large"):
        load_image(item)
