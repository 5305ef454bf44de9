"""A missing hub weight offline fails before torch or the model library is imported, and
``zoo show`` never imports them."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tests.support.faults import _offline_env

HEAVY = ("torch", "timm", "open_clip", "transformers")


def _imported_heavy(importtime: str) -> set[str]:
    """The heavy top-level modules a ``python -X importtime`` log shows."""
    found = {line.rpartition("|")[2].strip() for line in importtime.splitlines()}
    return found & set(HEAVY)


def _run_importtime(
    args: list[str], env: dict[str, str]
) -> tuple[subprocess.CompletedProcess, float]:
    cmd = [sys.executable, "-X", "importtime", "-m", "infogauss_cli", *args]
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    return proc, time.monotonic() - start


@pytest.mark.parametrize("model", ["resnet34", "clip-vit-b32"])
@pytest.mark.parametrize("offline", [True, False])
def test_missing_hub_weight_fails_before_heavy_imports(tmp_path, offline, model):
    env = _offline_env(tmp_path)  # empty HF cache, the endpoint a closed loopback port
    if offline:
        env["HF_HUB_OFFLINE"] = "1"
    args = ["audit", model, "--data", "skimage-samples", "--quiet"]
    proc, elapsed = _run_importtime(args, env)
    assert proc.returncode == 3, proc.stderr[-2000:]
    assert not _imported_heavy(proc.stderr)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and f"cannot load {model}" in errors[0], errors
    assert elapsed < 10  # about 0.6 s here; loose for a loaded 2-core machine


def test_zoo_show_imports_no_model_library(tmp_path):
    env = _offline_env(tmp_path) | {"HF_HUB_OFFLINE": "1"}
    for model in ("resnet34", "minilm-l6", "dino-vitb16"):
        proc, _ = _run_importtime(["zoo", "show", model], env)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert not _imported_heavy(proc.stderr), model


def test_timm_hub_repo_guess_matches_timm():
    """The packaged zoo's tagged timm names live in ``timm/NAME`` as timm itself says."""
    timm = pytest.importorskip("timm")
    from infogauss_cli.models.backends.timm import hub_repo
    from infogauss_cli.models.catalogue import load_zoo

    names = [e.source.name for e in load_zoo().entries if e.backend == "timm"]
    for name in names:
        cfg = timm.models.get_pretrained_cfg(name)
        if cfg is not None and cfg.hf_hub_id and hub_repo(name):
            assert hub_repo(name) == cfg.hf_hub_id, name


def test_open_clip_hub_ids_match_open_clip():
    """The packaged zoo's open_clip entries name the hub repo open_clip's registry gives; a
    wrong one is refused."""
    pytest.importorskip("open_clip")
    from infogauss_cli.core.errors import BadInputError
    from infogauss_cli.models.catalogue import check_entry, load_zoo

    entries = [e for e in load_zoo().entries if e.backend == "open_clip"]
    assert entries and all(e.source.hub for e in entries)
    for entry in entries:
        check_entry(entry)
    source = entries[0].source.model_copy(update={"hub": "timm/elsewhere/"})
    with pytest.raises(BadInputError, match="not where open_clip keeps"):
        check_entry(entries[0].model_copy(update={"source": source}))
