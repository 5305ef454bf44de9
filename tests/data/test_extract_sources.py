"""Sources for the extractor: images:DIR, text:FILE, the --data parser, image decoding."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.data.sources import parse_data_spec
from infogauss_cli.data.sources.base import Item
from infogauss_cli.data.sources.images import ImageFolderSource, ImageLoadError, load_image
from infogauss_cli.data.sources.text import TextFileSource


def _rgb(path, color=(10, 200, 30), size=(8, 6)):
    Image.new("RGB", size, color).save(path)


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    _rgb(tmp_path / "b.jpg")
    _rgb(tmp_path / "A.JPEG")
    _rgb(tmp_path / "sub" / "c.png")
    _rgb(tmp_path / "sub" / "deeper" / "d.webp")
    _rgb(tmp_path / "e.BMP")
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "sub" / "f.gif").write_bytes(b"GIF89a")
    return tmp_path


def test_image_folder_is_recursive_sorted_with_posix_ids(tree):
    src = ImageFolderSource(tree)
    ids = [it.id for it in src.items("image")]
    assert ids == ["A.JPEG", "b.jpg", "e.BMP", "sub/c.png", "sub/deeper/d.webp"]
    assert all(os.path.isabs(it.path) for it in src.items("image"))
    assert src.towers == ("image",)


def test_image_fingerprint_tracks_the_files(tree):
    fp = ImageFolderSource(tree).fingerprint("image")
    assert fp == ImageFolderSource(tree).fingerprint("image")
    _rgb(tree / "new.jpg")
    fp2 = ImageFolderSource(tree).fingerprint("image")
    assert fp2 != fp
    (tree / "new.jpg").unlink()
    assert ImageFolderSource(tree).fingerprint("image") == fp
    st = os.stat(tree / "b.jpg")
    _rgb(tree / "b.jpg", color=(1, 2, 3))
    os.utime(tree / "b.jpg", ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert ImageFolderSource(tree).fingerprint("image") != fp


def test_image_folder_errors(tmp_path):
    with pytest.raises(BadInputError, match="no such directory"):
        ImageFolderSource(tmp_path / "missing")
    (tmp_path / "f.jpg").write_bytes(b"")
    with pytest.raises(BadInputError, match="not a directory"):
        ImageFolderSource(tmp_path / "f.jpg")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BadInputError, match="no image files"):
        ImageFolderSource(tmp_path / "empty").items("image")
    with pytest.raises(BadInputError, match="image tower only"):
        ImageFolderSource(tmp_path).items("text")


def test_load_image_converts_every_mode_to_rgb(tmp_path):
    cases = {
        "gray.jpg": Image.new("L", (4, 4), 128),
        "cmyk.jpg": Image.new("CMYK", (4, 4), (0, 255, 255, 0)),
        "pal.png": Image.new("RGB", (4, 4), (200, 0, 0)).convert("P"),
        "i16.png": Image.fromarray(np.full((4, 4), 65535, dtype=np.uint16)),
    }
    for name, img in cases.items():
        img.save(tmp_path / name)
        out = load_image(Item(name, path=str(tmp_path / name)))
        assert out.mode == "RGB" and out.size == (4, 4), name
    assert load_image(Item("g", path=str(tmp_path / "gray.jpg"))).getpixel((0, 0))[0] in range(
        120, 136
    )
    assert load_image(Item("c", path=str(tmp_path / "cmyk.jpg"))).getpixel((0, 0))[0] > 200
    assert load_image(Item("i", path=str(tmp_path / "i16.png"))).getpixel((0, 0)) == (
        255,
        255,
        255,
    )


def test_transparency_is_composited_on_white(tmp_path):
    rgba = Image.new("RGBA", (2, 1), (255, 0, 0, 0))
    rgba.putpixel((1, 0), (0, 0, 255, 255))
    rgba.save(tmp_path / "a.png")
    out = load_image(Item("a", path=str(tmp_path / "a.png")))
    assert out.getpixel((0, 0)) == (255, 255, 255)  # transparent red -> white
    assert out.getpixel((1, 0)) == (0, 0, 255)
    Image.new("LA", (2, 2), (0, 0)).save(tmp_path / "la.png")
    assert load_image(Item("la", path=str(tmp_path / "la.png"))).getpixel((0, 0)) == (255,) * 3
    pal = Image.new("P", (2, 2), 0)
    pal.putpalette([0, 0, 0] * 256)
    pal.info["transparency"] = 0
    pal.save(tmp_path / "p.png", transparency=0)
    assert load_image(Item("p", path=str(tmp_path / "p.png"))).getpixel((0, 0)) == (255,) * 3


def test_load_image_in_memory_and_errors(tmp_path):
    arr = np.zeros((3, 5, 3), dtype=np.uint8)
    assert load_image(Item("m", image=arr)).size == (5, 3)
    assert load_image(Item("m", image=Image.new("L", (2, 2)))).mode == "RGB"
    _rgb(tmp_path / "ok.jpg", size=(64, 64))
    data = (tmp_path / "ok.jpg").read_bytes()
    cases = {
        "zero.jpg": (b"", "empty file"),
        "trunc.jpg": (data[: len(data) // 2], "truncated"),
        "junk.png": (b"\x89PNG garbage" * 5, "not a readable image"),
    }
    for name, (content, reason) in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ImageLoadError, match=reason) as err:
            load_image(Item(name, path=str(tmp_path / name)))
        assert err.value.item_id == name
    with pytest.raises(ImageLoadError, match="not found"):
        load_image(Item("gone", path=str(tmp_path / "gone.jpg")))


def test_text_file_source(tmp_path):
    f = tmp_path / "captions.txt"
    f.write_text("\ufeffa cat\n\n  a dog  \r\n   \nbird\n", encoding="utf-8")
    src = TextFileSource(f)
    items = src.items("text")
    assert [(i.id, i.text) for i in items] == [
        ("line:1", "a cat"),
        ("line:3", "a dog"),
        ("line:5", "bird"),
    ]
    assert src.ignored("text") == {"empty line": 2} and src.towers == ("text",)
    fp = src.fingerprint("text")
    f.write_text("a cat\n\n  a dog  \r\n   \nbirds\n")
    assert TextFileSource(f).fingerprint("text") != fp
    with pytest.raises(BadInputError, match="text tower only"):
        src.items("image")


def test_text_file_errors(tmp_path):
    with pytest.raises(BadInputError, match="no such file"):
        TextFileSource(tmp_path / "missing.txt")
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(BadInputError, match=r"cannot read a \.json file"):
        TextFileSource(tmp_path / "x.json")
    (tmp_path / "latin.txt").write_bytes(b"caf\xe9\n")
    with pytest.raises(BadInputError, match="not UTF-8"):
        TextFileSource(tmp_path / "latin.txt").items("text")
    (tmp_path / "blank.txt").write_text("\n \n")
    with pytest.raises(BadInputError, match="no non-empty lines"):
        TextFileSource(tmp_path / "blank.txt").items("text")


def test_parse_data_spec(tree):
    assert isinstance(parse_data_spec(f"images:{tree}"), ImageFolderSource)
    (tree / "t.txt").write_text("hello\n")
    assert isinstance(parse_data_spec(f"text:{tree / 't.txt'}"), TextFileSource)
    for bad in ("nonsense", "video:x"):
        with pytest.raises(BadInputError, match=r"images:DIR, text:FILE"):
            parse_data_spec(bad)
