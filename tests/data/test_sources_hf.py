"""hf:DATASET[:SPLIT][#COLUMN] on local data: parquet files, a save_to_disk folder, a glob,
streaming; column detection; offline Hub ids give one clear message. Never touches a hub."""

from __future__ import annotations

import io

import pytest

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.core.options import DataOptions
from infogauss_cli.data.sources import ignored_counts, parse_data_spec
from infogauss_cli.data.sources.hub_datasets import HFSource, parse_hf_spec
from infogauss_cli.data.sources.images import load_image
from infogauss_cli.data.sources.loaders import item_loader

datasets = pytest.importorskip("datasets")


@pytest.fixture(autouse=True)
def _datasets_cache(tmp_path, monkeypatch):
    """Arrow copies of local files go to a temporary datasets cache, not the user's."""
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-cache")


def _png(color, size=(6, 4)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def _table(n=5, missing_image_at=None):
    images = [{"bytes": _png((10 * i, 0, 0)), "path": None} for i in range(n)]
    if missing_image_at is not None:
        images[missing_image_at] = None
    features = datasets.Features(
        {
            "image": datasets.Image(),
            "caption": datasets.Value("string"),
            "sentences": datasets.List(datasets.Value("string")),
            "label": datasets.Value("int64"),
        }
    )
    return datasets.Dataset.from_dict(
        {
            "image": images,
            "caption": [f"caption {i}" if i != 2 else "" for i in range(n)],
            "sentences": [[f"s{i}a", "", f"s{i}c"] if i else [] for i in range(n)],
            "label": list(range(n)),
        },
        features=features,
    )


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    root = tmp_path_factory.mktemp("hf")
    ds = _table(5, missing_image_at=4)
    (root / "pq").mkdir()
    ds.to_parquet(str(root / "pq" / "part-0.parquet"))
    datasets.DatasetDict({"train": _table(3), "validation": ds}).save_to_disk(str(root / "saved"))
    text_only = datasets.Dataset.from_dict({"text": ["one", "two", "three"]})
    text_only.save_to_disk(str(root / "text_only"))
    return root


def test_parse_hf_spec(tmp_path):
    assert parse_hf_spec("org/name") == ("org/name", None, None)
    assert parse_hf_spec("org/name:validation#caption") == ("org/name", "validation", "caption")
    assert parse_hf_spec("org/name:train[:100]") == ("org/name", "train[:100]", None)
    odd = tmp_path / "a:b"
    odd.mkdir()
    assert parse_hf_spec(f"{odd}#col") == (str(odd), None, "col")
    with pytest.raises(BadInputError, match="nothing after '#'"):
        parse_hf_spec("org/name#")


def test_parquet_file_detects_columns_and_pairs(local):
    src = parse_data_spec(f"hf:{local / 'pq' / 'part-0.parquet'}")
    assert isinstance(src, HFSource) and src.towers == ("image", "text")
    assert src.kinds == {"image": "image", "caption": "text", "sentences": "texts", "label": None}
    images = src.items("image")
    assert [i.id for i in images] == ["row:0", "row:1", "row:2", "row:3"]  # row 4 has no image
    assert load_image(images[1]).getpixel((0, 0)) == (10, 0, 0)
    assert item_loader(src, "image")(images[1]).getpixel((0, 0)) == (10, 0, 0)  # the default
    assert ignored_counts(src, "image") == {"missing image": 1}
    texts = src.items("text")  # two text columns: 'caption' is the usual name
    assert [(t.id, t.text, t.pair) for t in texts][:2] == [
        ("row:0", "caption 0", "row:0"),
        ("row:1", "caption 1", "row:1"),
    ]
    assert len(texts) == 4 and ignored_counts(src, "text") == {"empty text": 1}
    with pytest.raises(BadInputError, match=r"empty text.*--strict"):
        parse_data_spec(f"hf:{local / 'pq'}", DataOptions(strict=True)).items("text")


def test_list_column_with_captions_first_or_all(local):
    spec = f"hf:{local / 'pq'}#sentences"
    first = parse_data_spec(spec)
    assert first.towers == ("text",)
    assert [(t.id, t.text) for t in first.items("text")] == [
        (f"row:{i}:0", f"s{i}a") for i in range(1, 5)
    ]
    every = parse_data_spec(spec, DataOptions(captions="all"))
    assert [t.id for t in every.items("text")][:2] == ["row:1:0", "row:1:2"]
    assert len(every.items("text")) == 8
    assert first.fingerprint("text") != every.fingerprint("text")
    assert [
        t.text
        for t in parse_data_spec(f"hf:{local / 'pq'}", DataOptions(text_field="sentences")).items(
            "text"
        )
    ][:1] == ["s1a"]


def test_saved_dataset_splits_and_slices(local):
    with pytest.raises(BadInputError, match="has splits train, validation: pick one"):
        parse_data_spec(f"hf:{local / 'saved'}")
    val = parse_data_spec(f"hf:{local / 'saved'}:validation")
    assert len(val.items("text")) == 4
    sliced = parse_data_spec(f"hf:{local / 'saved'}:validation[1:3]#caption")
    assert [t.text for t in sliced.items("text")] == ["caption 1"]  # row 2 is empty
    with pytest.raises(BadInputError, match="no split 'test'"):
        parse_data_spec(f"hf:{local / 'saved'}:test")
    text_only = parse_data_spec(f"hf:{local / 'text_only'}")
    assert text_only.towers == ("text",) and len(text_only.items("text")) == 3
    with pytest.raises(BadInputError, match="text tower only"):
        text_only.items("image")


def test_streaming_matches_the_arrow_path(local):
    spec = f"hf:{local / 'pq' / '*.parquet'}"
    plain, streamed = parse_data_spec(spec), parse_data_spec(spec, DataOptions(streaming=True))
    for tower in ("image", "text"):
        assert [i.id for i in plain.items(tower)] == [i.id for i in streamed.items(tower)]
        assert plain.fingerprint(tower) == streamed.fingerprint(tower)


def test_column_errors(local):
    base = f"hf:{local / 'pq'}"
    with pytest.raises(BadInputError, match="no column 'nope'"):
        parse_data_spec(f"{base}#nope")
    with pytest.raises(BadInputError, match="holds neither images nor strings"):
        parse_data_spec(f"{base}#label")
    with pytest.raises(BadInputError, match="--text-field 'label' is not a text column"):
        parse_data_spec(base, DataOptions(text_field="label")).items("text")


def test_missing_local_paths(tmp_path):
    with pytest.raises(BadInputError, match="no such file or folder"):
        parse_data_spec(f"hf:{tmp_path / 'nope.parquet'}")
    with pytest.raises(BadInputError, match="no files match"):
        parse_data_spec(f"hf:{tmp_path}/*.parquet")
    (tmp_path / "x.bin").write_bytes(b"0")
    with pytest.raises(BadInputError, match=r"cannot read a .bin file"):
        parse_data_spec(f"hf:{tmp_path / 'x.bin'}")


def test_offline_hub_id_is_one_clear_message():
    with pytest.raises(BadInputError) as err:
        parse_data_spec("hf:infogauss-test/surely-not-cached:validation")
    message = str(err.value)
    assert "cannot reach the Hugging Face Hub (HF_DATASETS_OFFLINE" in message
    assert "save_to_disk" in message and "\n" not in message
