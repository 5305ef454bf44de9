"""A saved fit reloads bit for bit; a missing, corrupt, mismatched or foreign file is one clear
BadInputError."""

from __future__ import annotations

import json

import numpy as np
import pytest

from infogauss_cli import __version__
from infogauss_cli.core.errors import BadInputError
from infogauss_cli.diagnostics.fit import GaussianFit, fit

ARRAYS = ("mean", "covariance", "eigenvalues", "eigenvectors")
PROVENANCE = {"model": "minilm-l6", "revision": "abc", "data": "pydoc-topics", "n": 3}


@pytest.fixture
def saved(rng, tmp_path):
    x = rng.standard_normal((60, 5)) * [1, 2, 3, 4, 5]
    labels = ["cat"] * 30 + ["dog"] * 30
    f = fit(x, labels=labels, shrinkage="ledoit-wolf", view="l2", provenance=PROVENANCE)
    path = tmp_path / "out" / "FIT.safetensors"
    f.save(path)
    return f, path, x


def test_reloads_bit_for_bit(saved):
    f, path, x = saved
    g = GaussianFit.load(path)
    for a, b in [(f, g), *((f.classes[k], g.classes[k]) for k in f.classes)]:
        assert all(np.array_equal(getattr(a, k), getattr(b, k)) for k in ARRAYS)
        assert (a.n, a.shrinkage, a.intensity, a.reason) == (
            b.n,
            b.shrinkage,
            b.intensity,
            b.reason,
        )
    assert g.provenance == PROVENANCE and g.view == "l2" and list(g.classes) == ["cat", "dog"]
    for in_sample in (True, False):  # the Monte Carlo law is a function of what was saved
        d2 = f.mahalanobis(x)
        assert np.array_equal(f.tail_p(d2, in_sample=in_sample), g.tail_p(d2, in_sample=in_sample))
    assert np.array_equal(GaussianFit.load(path.with_suffix(".json")).mean, f.mean)


def test_sidecar_and_tensors(saved):
    from safetensors.numpy import load_file

    f, path, _ = saved
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["schema"] == "infogauss.fit/v1" and meta["infogauss"] == __version__
    assert (meta["n"], meta["d"], meta["view"], meta["shrinkage"]) == (60, 5, "l2", "ledoit-wolf")
    assert [c["name"] for c in meta["classes"]] == ["cat", "dog"] and meta["classes"][1]["n"] == 30
    t = load_file(path)
    assert t["class/1/mean"].dtype == np.float64 and np.array_equal(
        t["class/1/mean"], f.classes["dog"].mean
    )
    np.testing.assert_allclose(
        t["whiten_zca"] @ f.covariance @ t["whiten_zca"], np.eye(5), atol=1e-10
    )
    np.testing.assert_allclose(
        t["whiten_pca"] @ f.covariance @ t["whiten_pca"].T, np.eye(5), atol=1e-10
    )


def test_bad_files_are_one_clear_error(saved, tmp_path):
    _, path, _ = saved
    sidecar = path.with_suffix(".json")
    with pytest.raises(BadInputError, match="does not exist"):
        GaussianFit.load(tmp_path / "nothing.safetensors")
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(BadInputError, match="does not match the sha256"):
        GaussianFit.load(path)
    path.write_bytes(b"not a safetensors file")
    meta = json.loads(sidecar.read_text())
    import hashlib

    meta["sha256"] = hashlib.sha256(b"not a safetensors file").hexdigest()
    sidecar.write_text(json.dumps(meta))
    with pytest.raises(BadInputError, match="is not valid safetensors"):
        GaussianFit.load(path)
    sidecar.write_text(json.dumps({**meta, "schema": "infogauss.report/v1"}))
    with pytest.raises(BadInputError, match=r"has schema 'infogauss\.report/v1', expected"):
        GaussianFit.load(path)
    sidecar.write_text("{")
    with pytest.raises(BadInputError, match="is not valid JSON"):
        GaussianFit.load(path)


def test_a_sidecar_that_does_not_describe_the_tensors(saved):
    _, path, _ = saved
    sidecar = path.with_suffix(".json")
    meta = json.loads(sidecar.read_text())
    sidecar.write_text(json.dumps({**meta, "d": 7}))
    with pytest.raises(BadInputError, match="do not match d=7"):
        GaussianFit.load(path)


def test_sidecar_validates_against_the_published_schema(saved):
    jsonschema = pytest.importorskip("jsonschema")
    from importlib import resources

    schema = json.loads((resources.files("infogauss_cli") / "schemas/fit.v1.json").read_text())
    _, path, _ = saved
    meta = json.loads(path.with_suffix(".json").read_text())
    jsonschema.Draft202012Validator(schema).validate(meta)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate({**meta, "shrinkage": "oas"})
