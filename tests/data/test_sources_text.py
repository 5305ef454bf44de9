"""text:FILE in its three formats (.txt, .jsonl, .csv), images:DIR through the spec parser, and
the in-memory image forms the hf: source yields."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.core.options import DataOptions
from infogauss_cli.data.sources import ignored_counts, parse_data_spec
from infogauss_cli.data.sources.base import Item, fingerprint_items
from infogauss_cli.data.sources.images import ImageFolderSource, ImageLoadError, load_image
from infogauss_cli.data.sources.text import TextFileSource


def test_txt_unchanged(tmp_path):
    f = tmp_path / "c.txt"
    f.write_text("a cat\n\nbird\n")
    src = parse_data_spec(f"text:{f}")
    assert [(i.id, i.text) for i in src.items("text")] == [("line:1", "a cat"), ("line:3", "bird")]
    assert ignored_counts(src, "text") == {"empty line": 1}
    with pytest.raises(BadInputError, match=r"--text-field 'x' applies to .jsonl and .csv"):
        parse_data_spec(f"text:{f}", DataOptions(text_field="x"))


def test_jsonl(tmp_path):
    f = tmp_path / "c.jsonl"
    f.write_text(
        '{"text": " a cat ", "id": 1}\n'
        "\n"
        '{"text": "", "id": 2}\n'
        '{"text": null, "id": 3}\n'
        '"a bare string"\n'
        '{"text": "a dog", "caption": "ignored"}\n'
    )
    src = parse_data_spec(f"text:{f}")
    assert [(i.id, i.text) for i in src.items("text")] == [
        ("line:1", "a cat"),
        ("line:5", "a bare string"),
        ("line:6", "a dog"),
    ]
    assert ignored_counts(src, "text") == {"empty text": 2}
    with pytest.raises(BadInputError, match=r"line 3 has an empty text \(--strict\)"):
        parse_data_spec(f"text:{f}", DataOptions(strict=True)).items("text")
    g = tmp_path / "d.jsonl"
    g.write_text('{"caption": "x"}\n{"caption": "y"}\n')
    with pytest.raises(BadInputError, match=r"line 1 has no field 'text' \(fields: caption\)"):
        TextFileSource(g).items("text")
    src = TextFileSource(g, text_field="caption")
    assert [i.text for i in src.items("text")] == ["x", "y"]
    assert src.fingerprint("text") != TextFileSource(g, text_field="other").fingerprint("text")
    for content, message in [
        ('{"text": 3}\n', "is a int, not a string"),
        ("{broken\n", "line 1 is not valid JSON"),
        ("[1]\n", "is a JSON list"),
    ]:
        g.write_text(content)
        with pytest.raises(BadInputError, match=message):
            TextFileSource(g).items("text")


def test_csv_and_tsv(tmp_path):
    f = tmp_path / "c.csv"
    f.write_text('id,text,other\n1,"a cat, sitting",x\n2,,y\n\n3,"multi\nline",z\n')
    src = parse_data_spec(f"text:{f}")
    assert [(i.id, i.text) for i in src.items("text")] == [
        ("row:1", "a cat, sitting"),
        ("row:4", "multi\nline"),
    ]
    assert ignored_counts(src, "text") == {"empty text": 1}
    assert [i.text for i in TextFileSource(f, text_field="other").items("text")] == list("xyz")
    with pytest.raises(BadInputError, match=r"no column 'nope' \(columns: id, text, other\)"):
        TextFileSource(f, text_field="nope").items("text")
    only = tmp_path / "only.csv"
    only.write_text("sentence\nhello\nworld\n")
    assert [i.text for i in TextFileSource(only).items("text")] == ["hello", "world"]
    two = tmp_path / "two.csv"
    two.write_text("a,b\n1,2\n")
    with pytest.raises(BadInputError, match=r"no 'text' column.*--text-field"):
        TextFileSource(two).items("text")
    tsv = tmp_path / "c.tsv"
    tsv.write_text("text\tn\nhello there\t1\n")
    assert [i.text for i in TextFileSource(tsv).items("text")] == ["hello there"]
    empty = tmp_path / "e.csv"
    empty.write_text("")
    with pytest.raises(BadInputError, match="no header row"):
        TextFileSource(empty).items("text")
    header_only = tmp_path / "h.csv"
    header_only.write_text("text\n\n")
    with pytest.raises(BadInputError, match="no non-empty texts"):
        TextFileSource(header_only).items("text")


def test_text_rejects_other_formats(tmp_path):
    for name, message in [("x.json", "coco:FILE.json"), ("x.parquet", "hf:FILE.parquet")]:
        (tmp_path / name).write_text("{}")
        with pytest.raises(BadInputError, match=message):
            parse_data_spec(f"text:{tmp_path / name}")


def test_images_spec_and_tower_check(tmp_path):
    Image.new("RGB", (4, 4)).save(tmp_path / "a.png")
    src = parse_data_spec(f"images:{tmp_path}")
    assert isinstance(src, ImageFolderSource) and [i.id for i in src.items("image")] == ["a.png"]
    with pytest.raises(BadInputError, match="image tower only"):
        src.items("text")


def test_load_image_from_encoded_bytes():
    buf = io.BytesIO()
    Image.new("CMYK", (5, 3), (0, 0, 0, 0)).save(buf, format="JPEG")
    img = load_image(Item("b", image=buf.getvalue()))
    assert img.mode == "RGB" and img.size == (5, 3)
    with pytest.raises(ImageLoadError, match="empty file"):
        load_image(Item("e", image=b""))
    with pytest.raises(ImageLoadError, match="truncated"):
        load_image(Item("t", image=buf.getvalue()[: len(buf.getvalue()) // 2]))
    with pytest.raises(ImageLoadError, match="not a readable image"):
        load_image(Item("j", image=b"junk" * 10))


def test_fingerprint_items_tracks_content():
    a = [Item("1", text="x"), Item("2", image=b"abc", pair="1")]
    assert fingerprint_items("t", a) == fingerprint_items("t", list(a))
    assert fingerprint_items("t", a) != fingerprint_items("u", a)
    assert fingerprint_items("t", a) != fingerprint_items("t", [a[0], Item("2", image=b"abd")])
