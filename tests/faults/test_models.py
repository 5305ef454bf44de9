"""Models: weights that are no checkpoint, ``pkg:`` escapes, ``@random`` seeds, and failing
fast offline without the offline variables (never touching the internet: a closed loopback
port, an unresolvable name, a name lookup that hangs)."""

from __future__ import annotations

import time

import pytest

from infogauss_cli.core.errors import BadInputError
from tests.support.cli import invoke
from tests.support.encoders import write_images
from tests.support.faults import (
    _extract_offline,
    closed_port,
    one_error_line,
    zoo_file,
)


@pytest.mark.parametrize("content", [b"just some text\n", b"", b"\x00" * 64])
def test_weights_that_are_not_a_checkpoint(tmp_path, content):
    from infogauss_cli.models.weights import check_checkpoint

    path = tmp_path / "w.pth"
    path.write_bytes(content)
    with pytest.raises(BadInputError, match="not a checkpoint of a known format") as info:
        check_checkpoint(path, "m")
    assert "safetensors" in str(info.value) and str(path) in str(info.value)


def test_real_checkpoint_formats_pass(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file

    from infogauss_cli.models.weights import check_checkpoint

    t = {"w": torch.zeros(2)}
    save_file(t, tmp_path / "a.safetensors")
    torch.save(t, tmp_path / "b.pt")
    torch.save(t, tmp_path / "c.pth", _use_new_zipfile_serialization=False)
    for name in ("a.safetensors", "b.pt", "c.pth"):
        assert check_checkpoint(tmp_path / name, "m") == tmp_path / name
    good = (tmp_path / "a.safetensors").read_bytes()
    (tmp_path / "t.safetensors").write_bytes(good[:-3])
    with pytest.raises(BadInputError, match="truncated or damaged"):
        check_checkpoint(tmp_path / "t.safetensors", "m")


@pytest.mark.slow
def test_cli_text_file_as_weights_exits_2(tmp_path):
    weights = tmp_path / "notes.txt"
    weights.write_text("these are not weights\n")
    write_images(tmp_path / "imgs", 3)
    r = invoke(
        "extract",
        "m",
        "--zoo",
        zoo_file(tmp_path, str(weights)),
        "--data",
        f"images:{tmp_path / 'imgs'}",
        "--out",
        tmp_path / "x.npy",
        "--no-cache",
    )
    assert r.exit_code == 2, r.output
    line = one_error_line(r.output)
    assert "not a checkpoint of a known format" in line and "notes.txt" in line


def test_pkg_weights_stay_inside_their_package():
    from infogauss_cli.models.weights import package_path

    assert package_path("pkg:email/mime") is not None
    for spec in ("pkg:email/../json/__init__.py", "pkg:email/../../../../etc/passwd"):
        with pytest.raises(BadInputError, match="leaves the package folder"):
            package_path(spec)


# ---- @random seeds -----------------------------------------------------------------------------
def test_random_seed_range_checked_at_parse_time():
    r = invoke("zoo", "show", "effnet-lite0@random:99999999999999999999999")
    assert r.exit_code == 2
    line = one_error_line(r.output)
    assert "between 0 and 4294967295" in line
    assert invoke("zoo", "show", "effnet-lite0@random:4294967295").exit_code == 0


# ---- offline without the offline variables -----------------------------------------------------
def test_probe_closed_port_and_unresolvable_name_are_fast():
    from infogauss_cli.core.netcheck import unreachable_reason

    start = time.monotonic()
    assert unreachable_reason(f"http://127.0.0.1:{closed_port()}", 3) is not None
    assert unreachable_reason("http://no-such-host.invalid", 3) is not None
    assert time.monotonic() - start < 7


def test_a_hanging_name_lookup_is_bounded(monkeypatch):
    from infogauss_cli.core import netcheck

    monkeypatch.setattr(netcheck.socket, "getaddrinfo", lambda *a, **k: time.sleep(30))
    start = time.monotonic()
    why = netcheck.unreachable_reason("https://huggingface.co", 1.0)
    assert why is not None and "no answer within" in why
    assert time.monotonic() - start < 10  # bounded by 1 s, not the 30 s lookup (loose for load)


def test_hub_file_fails_within_seconds_without_offline_flags(monkeypatch):
    from infogauss_cli.core.errors import RunError
    from infogauss_cli.models.backends import hub

    monkeypatch.setattr(hub, "offline_flag", lambda: None)
    monkeypatch.setattr(hub, "endpoint", lambda: f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setattr(hub, "cached_file", lambda *a, **k: None)
    start = time.monotonic()
    with pytest.raises(RunError, match="is unreachable") as info:
        hub.hub_file("resnet34", "timm/resnet34.tv_in1k", ["model.safetensors"])
    assert time.monotonic() - start < 5
    assert "\n" not in str(info.value) and "weights: PATH" in str(info.value)


def test_hf_dataset_fails_within_seconds_without_offline_flags(monkeypatch, tmp_path):
    pytest.importorskip("datasets")
    from infogauss_cli.data.sources import parse_data_spec
    from infogauss_cli.models.backends import hub

    for var in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(hub, "endpoint", lambda: f"http://127.0.0.1:{closed_port()}")
    start = time.monotonic()
    with pytest.raises(BadInputError, match="cannot reach the Hugging Face Hub") as info:
        parse_data_spec("hf:user/dataset")
    assert time.monotonic() - start < 10
    assert "\n" not in str(info.value)


@pytest.mark.slow
def test_hf_source_fails_fast_with_one_message(tmp_path):
    proc, elapsed = _extract_offline("minilm-l6", "hf:user/dataset", tmp_path)
    assert proc.returncode == 2, proc.stderr
    line = one_error_line(proc.stderr)
    assert "cannot reach the Hugging Face Hub" in line and "hf:DIR" in line
    assert elapsed < 240  # imports dominate (seconds to a minute on a loaded 2-core machine)


@pytest.mark.slow
def test_hub_weights_fail_fast_with_one_message(tmp_path):
    write_images(tmp_path / "imgs", 2)
    proc, elapsed = _extract_offline("resnet34", f"images:{tmp_path / 'imgs'}", tmp_path)
    assert proc.returncode == 3, proc.stderr
    line = one_error_line(proc.stderr)
    assert "cannot load resnet34" in line and "unreachable" in line
    assert elapsed < 30  # fails before timm is imported (under 1 s measured); generous for load
