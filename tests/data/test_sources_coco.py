"""COCO sources: coco:ANN.json[:IMAGES_DIR] and coco-val2017 on a generated COCO-format folder."""

from __future__ import annotations

import json

import pytest

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.core.options import DataOptions
from infogauss_cli.data.sources import data_section, parse_data_spec
from infogauss_cli.data.sources.coco import CocoSource, split_coco_spec
from infogauss_cli.data.sources.images import ImageLoadError, load_image
from tests.support.coco import file_name, image_ids, make_coco


@pytest.fixture(scope="module")
def coco(tmp_path_factory):
    return make_coco(tmp_path_factory.mktemp("coco"), n_images=6, captions_per_image=5)


@pytest.fixture(autouse=True)
def _no_user_data(tmp_path, monkeypatch):
    monkeypatch.setenv("INFOGAUSS_DATA", str(tmp_path / "no-data"))


def test_images_sorted_by_id_with_paths(coco):
    src = parse_data_spec(f"coco:{coco.ann_path}:{coco.images_dir}")
    assert isinstance(src, CocoSource) and src.towers == ("image", "text")
    items = src.items("image")
    ids = image_ids(6)
    assert [it.id for it in items] == [f"coco:{i}" for i in ids]
    assert items[0].path == str(coco.images_dir / file_name(ids[0]))
    assert src.name == f"coco:{coco.ann_path}:{coco.images_dir}"


def test_images_decode_to_rgb_and_truncated_fails(coco):
    items = CocoSource(coco.ann_path, coco.images_dir).items("image")
    from PIL import Image

    with Image.open(items[0].path) as raw:
        assert raw.mode == "L"  # the grayscale one
    with Image.open(items[1].path) as raw:
        assert raw.mode == "CMYK"
    sizes = set()
    for it in items[:-1]:
        img = load_image(it)
        assert img.mode == "RGB"
        sizes.add(img.size)
    assert len(sizes) > 1  # varied sizes
    with pytest.raises(ImageLoadError, match="truncated"):
        load_image(items[-1])


def test_captions_first_is_lowest_annotation_id_and_paired(coco):
    doc = json.loads(coco.ann_path.read_text())
    src = CocoSource(coco.ann_path, coco.images_dir, captions="first")
    items = src.items("text")
    assert len(items) == 6
    for k, (it, iid) in enumerate(zip(items, image_ids(6), strict=True)):
        lowest = min(a["id"] for a in doc["annotations"] if a["image_id"] == iid)
        assert it.id == f"caption:{lowest}"
        assert it.pair == f"coco:{iid}"
        assert it.text.startswith(f"photo {k} caption 0 ")
    assert src.ignored("text") == {"empty caption": 0, "orphan caption": 0}


def test_captions_all(coco):
    src = CocoSource(coco.ann_path, coco.images_dir, captions="all")
    items = src.items("text")
    assert len(items) == 30 and len({it.id for it in items}) == 30
    pairs = [it.pair for it in items]
    assert pairs == [f"coco:{i}" for i in image_ids(6) for _ in range(5)]
    first = CocoSource(coco.ann_path, coco.images_dir, captions="first")
    assert first.fingerprint("text") != src.fingerprint("text")
    assert src.fingerprint("text") == CocoSource(coco.ann_path, captions="all").fingerprint("text")
    with pytest.raises(BadInputError, match="--captions 'some'"):
        CocoSource(coco.ann_path, captions="some")


def test_images_dir_is_guessed_from_the_layout(coco, tmp_path):
    src = parse_data_spec(f"coco:{coco.ann_path}")
    assert src.images_dir == coco.images_dir.absolute()
    assert len(src.items("image")) == 6
    # images next to the annotation file, in a folder not named after the split
    flat = make_coco(tmp_path / "flat", n_images=3, split="mine", truncated=0)
    moved = flat.ann_path.parent / "images"
    flat.images_dir.rename(moved)
    assert CocoSource(flat.ann_path).images_dir == moved.absolute()
    # nowhere: the text tower still works, the image tower says what to pass
    (tmp_path / "lonely").mkdir()
    lonely = tmp_path / "lonely" / "captions.json"
    lonely.write_text(coco.ann_path.read_text())
    src = CocoSource(lonely)
    assert len(src.items("text")) == 6
    with pytest.raises(BadInputError, match=r"cannot find the images.*IMAGES_DIR"):
        src.items("image")


def test_missing_images_are_one_error_naming_them(tmp_path):
    fx = make_coco(tmp_path, n_images=5, truncated=0)
    for iid in image_ids(5)[1:4]:
        (fx.images_dir / file_name(iid)).unlink()
    src = CocoSource(fx.ann_path, fx.images_dir)
    with pytest.raises(BadInputError, match=r"3 of 5 image files .* are missing") as err:
        src.items("image")
    assert file_name(image_ids(5)[1]) in str(err.value)
    assert len(src.items("text")) == 5  # captions do not need the files


def test_empty_captions_skipped_counted_or_strict(tmp_path):
    fx = make_coco(tmp_path, n_images=4, captions_per_image=3, truncated=0, empty_captions=2)
    first = CocoSource(fx.ann_path, captions="first")
    items = first.items("text")
    assert len(items) == 4  # the next caption stands in for an empty lowest one
    assert items[0].text.startswith("photo 0 caption 1 ")
    assert first.ignored("text")["empty caption"] == 2
    every = parse_data_spec(f"coco:{fx.ann_path}", DataOptions(captions="all"))
    assert len(every.items("text")) == 10
    assert data_section(every, "text", 10, (("x", "truncated image"),)) == {
        "source": f"coco:{fx.ann_path}",
        "items": 11,
        "skipped": 1,
        "skipped_ids": ["x"],
        "ignored": {"empty caption": 2},
    }
    with pytest.raises(BadInputError, match=r"2 empty caption.*--strict"):
        CocoSource(fx.ann_path, strict=True).items("text")


def test_bad_annotation_files(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(BadInputError, match="not valid JSON"):
        parse_data_spec(f"coco:{bad}")
    bad.write_text("[1, 2]")
    with pytest.raises(BadInputError, match="not a COCO annotation file"):
        parse_data_spec(f"coco:{bad}")
    bad.write_text(json.dumps({"images": [], "annotations": []}))
    with pytest.raises(BadInputError, match="lists no images"):
        parse_data_spec(f"coco:{bad}")
    bad.write_text(json.dumps({"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": []}))
    with pytest.raises(BadInputError, match="has no captions"):
        parse_data_spec(f"coco:{bad}").items("text")
    with pytest.raises(BadInputError, match="no such file"):
        parse_data_spec(f"coco:{tmp_path / 'nope.json'}")
    with pytest.raises(BadInputError, match="does not exist"):
        parse_data_spec(f"coco:{bad}:{tmp_path / 'nope'}")
    with pytest.raises(BadInputError, match=r"name a .json annotation file"):
        parse_data_spec(f"coco:{tmp_path}")


def test_split_coco_spec(tmp_path):
    assert split_coco_spec("a/b.json") == ("a/b.json", None)
    assert split_coco_spec("a/b.json:imgs") == ("a/b.json", "imgs")
    assert split_coco_spec("a/b.JSON:") == ("a/b.JSON", None)
    odd = tmp_path / "x.json:y.json"  # a colon in the file name: the existing file wins
    odd.write_text("{}")
    assert split_coco_spec(f"{odd}:imgs") == (str(odd), "imgs")


def test_coco_val2017_from_the_data_dir(tmp_path, monkeypatch):
    data = tmp_path / "data"
    with pytest.raises(BadInputError, match="infogauss data fetch coco-val2017"):
        parse_data_spec("coco-val2017", data_dir=data)
    make_coco(data / "coco", n_images=3, truncated=0)  # files but no marker: incomplete
    with pytest.raises(BadInputError, match="is incomplete in"):
        parse_data_spec("coco-val2017", data_dir=data)
    make_coco(data / "coco", n_images=3, truncated=0, marker=True)
    src = parse_data_spec("COCO-val2017", DataOptions(captions="all"), data_dir=data)
    assert src.name == "coco-val2017"
    assert len(src.items("image")) == 3 and len(src.items("text")) == 15
    monkeypatch.setenv("INFOGAUSS_DATA", str(data))
    assert len(parse_data_spec("coco-val2017").items("image")) == 3
    (data / "coco" / "val2017" / file_name(image_ids(3)[0])).unlink()
    with pytest.raises(BadInputError, match="data fetch coco-val2017 --force"):
        parse_data_spec("coco-val2017").items("image")


def test_unknown_specs_list_the_forms():
    for bad in ("nonsense", "video:x", "coco-train2017"):
        with pytest.raises(BadInputError, match=r"coco-val2017, coco:ANNOTATIONS.json"):
            parse_data_spec(bad)
    for bad in ("images:", "coco:", "text:  ", "hf:"):
        with pytest.raises(BadInputError, match="missing what follows"):
            parse_data_spec(bad)
