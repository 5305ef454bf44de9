"""The cache serves reruns and smaller ``--n`` without building the model or importing torch
(extract/cached.py), and the report's provenance fields."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

N_IMAGES = 40

PROBE = """
import runpy, sys
sys.argv = ["infogauss", *sys.argv[1:]]
try:
    runpy.run_module("infogauss_cli", run_name="__main__")
except SystemExit as exc:
    heavy = sorted(m for m in ("torch", "timm", "transformers", "open_clip") if m in sys.modules)
    print("HEAVY=" + ",".join(heavy), file=sys.stderr)
    raise
"""


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A zoo with one tiny timm model (local weights) and a folder of 40 small images."""
    import timm
    from PIL import Image
    from safetensors.torch import save_file

    root = tmp_path_factory.mktemp("tiny")
    model = timm.create_model("test_resnet.r160_in1k", pretrained=False, num_classes=0)
    save_file(model.state_dict(), str(root / "w.safetensors"))
    rng = np.random.default_rng(0)
    (root / "img").mkdir()
    for i in range(N_IMAGES):
        pixels = rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(root / "img" / f"{i:03d}.png")
    (root / "zoo.yaml").write_text(
        "schema_version: 1\nmodels:\n"
        "  - id: tiny\n"
        "    backend: timm\n"
        "    source: {name: test_resnet.r160_in1k, weights: " + str(root / "w.safetensors") + ", "
        "input_size: 32, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25]}\n"
        "    towers: [image]\n"
        "    objective: supervised\n"
        "    embedding: pooled features\n"
        "    dim: 96\n"
    )
    return root


def audit(tiny, cache, *extra):
    """``infogauss audit tiny`` in a fresh process; (report, torch-like modules imported)."""
    env = {**os.environ, "INFOGAUSS_CACHE": str(cache), "INFOGAUSS_CHUNK_ITEMS": "16"}
    args = ["audit", "tiny", "--zoo", tiny / "zoo.yaml", "--data", f"images:{tiny / 'img'}"]
    cmd = [sys.executable, "-c", PROBE, *map(str, args), "--json", "-", "-q", *map(str, extra)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode in (0, 1), r.stderr
    heavy = r.stderr.rpartition("HEAVY=")[2].strip()
    return json.loads(r.stdout), heavy


def test_reruns_and_smaller_n_come_from_the_cache_with_provenance(tiny, tmp_path):
    """A rerun and a smaller --n neither build the model nor import torch, give the numbers a
    fresh run gives, carry the same provenance, and leave no assembled copy behind."""
    import hashlib
    from importlib.metadata import version

    from infogauss_cli.report.json_report import validate_report

    first, heavy = audit(tiny, tmp_path)
    assert "torch" in heavy and first["rows"][0]["timing"]["from_cache"] == 0.0
    again, heavy = audit(tiny, tmp_path)
    assert heavy == "" and again["rows"][0]["timing"]["from_cache"] == 1.0
    assert again["rows"][0]["metrics"] == first["rows"][0]["metrics"]
    sub, heavy = audit(tiny, tmp_path, "--n", 25)
    assert heavy == "" and sub["rows"][0]["timing"]["from_cache"] == 1.0
    assert sub["rows"][0]["protocol"]["n"] == 25
    assert not list(tmp_path.rglob("*.assembled.npy")) and not list(tmp_path.rglob(".matrix.*"))
    # the same subset computed from scratch in another cache: the same matrix, the same numbers
    fresh, _ = audit(tiny, tmp_path / "other", "--n", 25)
    assert fresh["rows"][0]["timing"]["from_cache"] == 0.0
    assert fresh["rows"][0]["metrics"] == sub["rows"][0]["metrics"]
    # the subset's own entry serves the subset rerun in the other cache
    sub_again, heavy = audit(tiny, tmp_path / "other", "--n", 25)
    assert heavy == "" and sub_again["rows"][0]["timing"]["from_cache"] == 1.0

    weights = hashlib.sha256((tiny / "w.safetensors").read_bytes()).hexdigest()
    for report in (first, again, sub):
        validate_report(report)
        prov = report["rows"][0]["provenance"]
        assert prov["weights_sha256"] == weights and prov["weights"].startswith("file:sha256:")
        assert len(prov["data_fingerprint"]) == 64
        env = report["environment"]
        assert env["timm"] == version("timm") and env["transformers"] == version("transformers")
        assert "open_clip_torch" in env and "sentence-transformers" in env and "datasets" in env
    fingerprint = first["rows"][0]["provenance"]["data_fingerprint"]
    assert again["rows"][0]["provenance"]["data_fingerprint"] == fingerprint  # cached = computed
    assert sub["rows"][0]["provenance"]["data_fingerprint"] != fingerprint  # another subset


def test_weights_sha256_only_for_local_weights():
    from infogauss_cli.models.digest import identity_sha256

    hex64 = "ab" * 32
    assert identity_sha256(f"file:sha256:{hex64}") == hex64
    assert identity_sha256(f"dir:sha256:{hex64}:ctx77") == hex64
    assert identity_sha256("random:0") is None and identity_sha256("hf:org/m@abc:w.bin") is None
    assert identity_sha256(None) is None


def test_smaller_n_reuses_the_full_entry_when_the_model_is_built(tiny, tmp_path):
    """No recipe (hub weights, or a cache written by an older version): the model is built,
    and a smaller --n is still gathered from the full run's chunks."""
    import shutil

    first, _ = audit(tiny, tmp_path)
    shutil.rmtree(tmp_path / ".recipes")
    sub, heavy = audit(tiny, tmp_path, "--n", 25)
    assert "torch" in heavy and sub["rows"][0]["timing"]["from_cache"] == 1.0
    assert sub["rows"][0]["protocol"]["n"] == 25
    assert len(list(tmp_path.glob("*/meta.json"))) == 1  # no entry of its own
    prov = sub["rows"][0]["provenance"]
    assert prov["weights_sha256"] == first["rows"][0]["provenance"]["weights_sha256"]
