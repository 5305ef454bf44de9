"""Test-wide settings: never touch a model hub, never write outside tmp dirs."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile

# Set before huggingface_hub / transformers / datasets are imported: they read these at import.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["MPLBACKEND"] = "Agg"
if "INFOGAUSS_CACHE" not in os.environ:
    _cache = tempfile.mkdtemp(prefix="infogauss-test-cache-")
    os.environ["INFOGAUSS_CACHE"] = _cache
    atexit.register(shutil.rmtree, _cache, ignore_errors=True)
os.environ.pop("INFOGAUSS_ZOO", None)
os.environ.pop("COLUMNS", None)  # tables at the piped width (160) unless a test sets it
_data = tempfile.mkdtemp(prefix="infogauss-test-data-")  # never read a real COCO copy
os.environ["INFOGAUSS_DATA"] = _data
atexit.register(shutil.rmtree, _data, ignore_errors=True)

import pytest  # noqa: E402

pytest_plugins = ["tests.support.fetch", "tests.support.models"]


@pytest.fixture
def rng():
    import numpy as np

    return np.random.default_rng(12345)


@pytest.fixture(autouse=True)
def _validate_reports(monkeypatch):
    """Every report the suite writes (``--json FILE`` or ``-``) validates against the shipped
    schema (infogauss_cli/schemas/report.v1.json): checked where the JSON is serialised."""
    from infogauss_cli.report import json_report
    from infogauss_cli.report.json_report import validate_report

    original = json_report.dumps

    def checked(report):
        text = original(report)
        validate_report(json.loads(text))
        return text

    monkeypatch.setattr(json_report, "dumps", checked)


# ---- the CLI with a fake zoo: tiny offline encoders instead of real models --------------------
FAKE_TOWERS = {"tiny-cnn": ["image"], "tiny-clip": ["image", "text"]}


class FakeZoo:
    """``tiny-cnn`` (image) and ``tiny-clip`` (image + text); anything else is unknown."""

    def resolve(self, model):
        import types

        from infogauss_cli.core.errors import BadInputError

        if model not in FAKE_TOWERS:
            raise BadInputError(f"unknown model {model!r}")
        return types.SimpleNamespace(id=model, ref=model, towers=FAKE_TOWERS[model])


@pytest.fixture
def fakes(monkeypatch):
    """The zoo and ``build_encoder`` replaced: :class:`FakeZoo` entries build the tiny encoders
    of tests/extract/test_extract.py. Returns the list of (model, tower) built, in order."""
    import infogauss_cli.models.catalogue as backends
    import infogauss_cli.models.catalogue as zoo
    from tests.support.encoders import make_image_encoder, make_text_encoder

    built = []

    def build_encoder(entry, tower):
        built.append((entry.id, tower))
        return make_image_encoder() if tower == "image" else make_text_encoder()

    monkeypatch.setattr(zoo, "load_zoo", lambda path=None: FakeZoo())
    monkeypatch.setattr(backends, "build_encoder", build_encoder)
    return built
