"""`infogauss track`: synthetic checkpoints (`synthetic --save-checkpoints`) reproduce the binary
setting's E0 -> trained rise and the supervised run's collapse, row for row equal to
`synthetic`; zoo checkpoints (one entry, weights per checkpoint) ordered by step and cached;
the trend gate's definition."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from infogauss_cli.cli.main import app
from infogauss_cli.core.errors import BadInputError
from infogauss_cli.core.options import Request
from infogauss_cli.judge.model import Row
from infogauss_cli.pipelines.synthetic.checkpoints import CheckpointSaver, find_checkpoints
from infogauss_cli.pipelines.synthetic.experiment import synthetic_rows
from infogauss_cli.pipelines.synthetic.train import preset
from infogauss_cli.pipelines.track import (
    kendall,
    order_by_step,
    parse_step,
    track_synthetic,
    trend_gate,
)

runner = CliRunner()
# the sizes of tests/pipelines/test_synthetic.py (seconds): d=64, 15 epochs of 8 steps, n=1500
TINY = dict(d=64, epochs=15, steps_per_epoch=8, n_eval=1500, input_dim=64, bits=512,
            batch_size=128, eval_epochs=(5,), settings=("binary", "supervised"))  # fmt: skip


def invoke(*args: str):
    return runner.invoke(app, list(args))


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    root = tmp_path_factory.mktemp("ckpt")
    rows = synthetic_rows(preset("quick", **TINY), saver=CheckpointSaver(root))
    return root, {r.model: r for r in rows}


# ---- synthetic checkpoints -----------------------------------------------------------------------
@pytest.mark.slow
def test_save_checkpoints_layout(saved):
    root, _ = saved
    cks = find_checkpoints([root])
    runs = {(c.run.data, c.run.objective) for c in cks}
    assert runs == {("binary", "infonce"), ("gmm", "supervised")}
    for c in cks:  # epoch 0 is saved for every run, even when its row is shared
        assert c.step == c.epoch * 8 and c.config.d == 64
    assert sorted(c.epoch for c in cks if c.run.data == "binary") == [0, 5, 15]
    assert sorted(c.epoch for c in cks if c.run.data == "gmm") == [0, 5, 15]
    meta = json.loads((root / "binary-linear-infonce" / "epoch-0005.json").read_text())
    assert meta["format"] == "infogauss.synthetic-checkpoint/v1" and meta["step"] == 40
    assert (root / "binary-linear-infonce" / "epoch-0005.safetensors").is_file()


@pytest.mark.slow
def test_track_reproduces_synthetic_rows_and_the_rise(saved):
    root, direct = saved
    res = track_synthetic([root], Request(), trend="up")
    by_name = {s.name: s.rows for s in res}
    binary = by_name["Synthetic Binary (Linear) (l2)"]
    sup = by_name["Synthetic GMM (Linear, supervised) (l2)"]
    assert [r.step for r in binary] == [0, 40, 120] == [r.step for r in sup]
    # the same numbers as `synthetic` (same held-out rows, same weights)
    for r in binary + sup[1:]:
        ref = direct[r.model]
        for key in ("ad_compliance", "dp_compliance", "norm_cv", "uniformity"):
            assert r.metrics[key] == ref.metrics[key], (r.model, key)
    assert (
        sup[0].metrics["ad_compliance"]
        == direct["Synthetic GMM (Linear) E0"].metrics["ad_compliance"]
    )
    # binary: E0 -> trained rise in both compliances, the trend gate passes on the last row
    assert binary[-1].metrics["ad_compliance"] > binary[0].metrics["ad_compliance"]
    assert binary[-1].metrics["dp_compliance"] > binary[0].metrics["dp_compliance"]
    assert all(g.passed for g in binary[-1].gates) and len(binary[-1].gates) == 2
    assert all(not r.gates for r in binary[:-1])  # gates on the last checkpoint only
    # supervised: far below the null after training, and no rise
    assert max(r.metrics["dp_compliance"] for r in sup[1:]) < 0.5
    assert not any(g.passed for g in sup[-1].gates)
    js = sup[-1].to_dict()
    assert js["step"] == 120 and js["gates"][0]["name"] == "trend-up:ad_compliance"


@pytest.mark.slow
def test_track_cli_on_synthetic_checkpoints(saved, tmp_path):
    root, _ = saved
    out = tmp_path / "r.json"
    r = invoke(
        "track", str(root / "binary-linear-infonce"), "--require-trend", "up", "--json",
        str(out), "--plots", str(tmp_path / "p"), "--html", str(tmp_path / "r.html"), "--quiet",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    rows = json.loads(out.read_text())["rows"]
    assert [row["step"] for row in rows] == [0, 40, 120]
    assert (tmp_path / "p" / "trajectory.png").stat().st_size > 10_000
    page = (tmp_path / "r.html").read_text()  # the section has an anchor and is in the contents
    assert '<h2 id="trajectory">Trajectory</h2>' in page and 'href="#trajectory"' in page
    r = invoke("track", str(root), "--require-trend", "up", "--quiet")
    assert r.exit_code == 1  # the supervised run does not rise
    r = invoke("track", str(root), "--require-trend", "down", "--quiet")
    assert r.exit_code == 1  # the binary run does not fall
    r = invoke("track", str(root), "--steps", "1,2", "--quiet")
    assert r.exit_code == 2 and "--steps" in r.output


# ---- zoo checkpoints: one entry, weights per checkpoint ---------------------------------------
@pytest.fixture(scope="module")
def zoo_run(tmp_path_factory):
    pytest.importorskip("timm")
    import timm
    import torch
    from PIL import Image
    from safetensors.torch import save_file

    root = tmp_path_factory.mktemp("zoo")
    (root / "imgs").mkdir()
    rng = np.random.default_rng(0)
    for i in range(24):
        img = rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)
        Image.fromarray(img).save(root / "imgs" / f"{i:03d}.png")
    (root / "ck").mkdir()
    for step in (1000, 50, 200):  # lexicographic order differs from step order
        torch.manual_seed(step)
        model = timm.create_model("test_vit.r160_in1k", pretrained=False)
        save_file(model.state_dict(), str(root / "ck" / f"step-{step}.safetensors"))
    (root / "zoo.yaml").write_text(
        "schema_version: 1\nmodels:\n"
        "  - id: tiny-vit\n    backend: timm\n"
        "    source: {name: test_vit.r160_in1k, weights: ck/step-50.safetensors}\n"
        "    towers: [image]\n    objective: other\n    embedding: pooled\n    dim: 64\n"
    )
    return root


@pytest.mark.slow
def test_track_zoo_weights_glob_ordered_and_cached(zoo_run, tmp_path):
    root = zoo_run
    args = [
        "track", "tiny-vit", "--zoo", str(root / "zoo.yaml"), "--weights",
        str(root / "ck" / "step-*.safetensors"), "--data", f"images:{root / 'imgs'}",
        "--cache-dir", str(tmp_path / "cache"), "--quiet", "--json", "-",
    ]  # fmt: skip
    r = invoke(*args)
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)["rows"]
    assert [row["step"] for row in rows] == [50, 200, 1000]
    assert [row["model"] for row in rows] == [
        f"tiny-vit @ step-{s}.safetensors" for s in (50, 200, 1000)
    ]
    assert len({row["metrics"]["ad_mean"] for row in rows}) == 3  # three different weights
    assert all("uniformity" in row["metrics"] for row in rows)
    again = json.loads(invoke(*args).stdout)["rows"]
    assert all(row["timing"]["from_cache"] == 1.0 for row in again)
    assert [row["metrics"] for row in again] == [row["metrics"] for row in rows]
    r = invoke(*args[:-2], "--steps", "3,2,1", "--json", "-")
    assert r.exit_code == 0
    assert [row["step"] for row in json.loads(r.stdout)["rows"]] == [1, 2, 3]
    r = invoke(*args[:-2], "--steps", "1,2")
    assert r.exit_code == 2 and "3 checkpoints" in r.output
    # a checkpoint that does not load: an error row (exit 3), the others still run
    import torch
    from safetensors.torch import save_file

    bad = tmp_path / "bad" / "step-300.safetensors"
    bad.parent.mkdir()
    save_file({"w": torch.zeros(3)}, str(bad))
    r = invoke(*args[:5], str(root / "ck" / "step-50.safetensors"), "--weights", str(bad),
               *args[6:])  # fmt: skip
    assert r.exit_code == 3
    rows = json.loads(r.stdout)["rows"]
    assert [row["step"] for row in rows] == [50, 300]
    assert "error" not in rows[0] and "do not fit" in rows[1]["error"]


def test_zoo_refs_without_steps_is_a_clear_error(tmp_path):
    r = invoke("track", "minilm-l6", "effnet-lite0", "--quiet")
    assert r.exit_code == 2 and "--steps" in r.output
    r = invoke("track", "a", "b", "--weights", str(tmp_path / "*.pt"))
    assert r.exit_code == 2


# ---- steps and the trend gate -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "step"),
    [
        ("checkpoint-500", 500),
        ("runs/model_step1200.safetensors", 1200),
        ("epoch=3-step=77.ckpt", 77),
        ("step-100-epoch-2.pt", 100),
        ("epoch_12.pt", 12),
        ("ckpt/checkpoint-40/model.safetensors", 40),
        ("v2-weights-0030.pth", 30),
        ("final.pt", None),
    ],
)
def test_parse_step(name, step):
    assert parse_step(name) == step


def test_parse_step_named_only_for_zoo_ids():
    assert parse_step("resnet34", named_only=True) is None
    assert parse_step("my-encoder-step-300", named_only=True) == 300


def test_order_by_step():
    assert order_by_step(["s-10", "s-2", "s-30"], None) == [(2, 1), (10, 0), (30, 2)]
    with pytest.raises(BadInputError, match="same step"):
        order_by_step(["a-1", "b-1"], None)


def _rows(values, d=128, n=2000):
    from infogauss_cli.diagnostics.reference import reference

    band = list(reference(n, d, "raw").band("ad", d))
    return [
        Row(model=f"m{i}", step=10 * i, protocol={"n": n, "d": d},
            metrics={"ad_compliance": v}, null={"ad_compliance_band": band})
        for i, v in enumerate(values)
    ]  # fmt: skip


def test_trend_gate_definition():
    rows = _rows([0.80, 0.85, 0.90, 0.95])
    lo, hi = rows[-1].null["ad_compliance_band"]
    margin = hi - lo
    assert 0.05 < margin < 0.1  # binomial 95% band of a 0.95 share over 128 coordinates
    up = trend_gate(rows, "up", "ad_compliance")
    assert up.passed and up.value == pytest.approx(0.15)
    assert not trend_gate(rows, "down", "ad_compliance").passed
    assert not trend_gate(rows, "flat", "ad_compliance").passed
    small = _rows([0.93, 0.95, 0.94, 0.93 + 0.9 * margin])
    assert trend_gate(small, "flat", "ad_compliance").passed
    assert not trend_gate(small, "up", "ad_compliance").passed
    assert not trend_gate(_rows([0.9]), "up", "ad_compliance").passed  # one checkpoint


def test_kendall_exact_p_is_the_closed_form():
    # 4 strictly increasing points: tau = 1, and the exact one-sided p is 1/4! = 1/24
    tau, p = kendall(_rows([0.1, 0.2, 0.3, 0.4]), "ad_compliance", "up")
    assert tau == pytest.approx(1.0) and p == pytest.approx(1 / math.factorial(4))
    tau, p = kendall(_rows([0.4, 0.3, 0.2, 0.1, 0.0]), "ad_compliance", "down")
    assert tau == pytest.approx(-1.0) and p == pytest.approx(1 / math.factorial(5))
    assert kendall(_rows([0.1, 0.2]), "ad_compliance", "up") == (None, None)


def test_checkpoint_sidecar_errors(tmp_path):
    bad = tmp_path / "epoch-0001.json"
    bad.write_text('{"format": "something else"}')
    with pytest.raises(BadInputError, match="not a synthetic checkpoint"):
        find_checkpoints([bad])
    with pytest.raises(BadInputError, match="no synthetic checkpoints"):
        find_checkpoints([Path(tmp_path / "empty")])


@pytest.mark.slow
def test_synthetic_cli_save_checkpoints_then_track(tmp_path):
    flags = ("--quick", "--d", "32", "--epochs", "2", "--n", "100", "--batch-size", "32")
    ck, a, b = tmp_path / "ck", tmp_path / "a.json", tmp_path / "b.json"
    r = invoke("synthetic", *flags, "--settings", "laplace", "--save-checkpoints", str(ck),
               "--json", str(a), "--quiet")  # fmt: skip
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (ck / "laplace-linear-infonce").iterdir()) == [
        "epoch-0000.json", "epoch-0000.safetensors", "epoch-0002.json", "epoch-0002.safetensors"
    ]  # fmt: skip
    r = invoke("track", str(ck), "--json", str(b), "--quiet")
    assert r.exit_code == 0, r.output
    direct, tracked = (json.loads(p.read_text())["rows"] for p in (a, b))
    assert [t["step"] for t in tracked] == [0, 2 * 16]
    assert [t["metrics"] for t in tracked] == [d["metrics"] for d in direct]
    r = invoke("synthetic", "--sweep", "--save-checkpoints", str(ck), "--quiet")
    assert r.exit_code == 2 and "--save-checkpoints" in r.output


def test_trajectory_plot_panels_and_png(tmp_path):
    from infogauss_cli.pipelines.track import Series
    from infogauss_cli.report.plots import write_figures
    from infogauss_cli.report.plots.charts import panels, trajectory_spec

    rows = [
        Row(model=f"m E{i}", step=10 * i, protocol={"view": "l2"},
            metrics={"ad_compliance": 0.8 + 0.05 * i, "dp_compliance": 0.7 + 0.1 * i,
                     "norm_cv": 0.1, "uniformity": -3.5, "uniformity_ideal": -3.9})
        for i in range(3)
    ]  # fmt: skip
    series = [Series("m (l2)", tuple(rows))]
    shown = panels([r for s in series for r in s.rows])
    assert [k for k, _ in shown] == ["compliance", "norm_cv", "uniformity"]
    effect = tuple(replace(r, metrics={**r.metrics, "effect_size": 0.1}) for r in rows)
    with_effect = [Series("m (l2)", effect)]
    assert [k for k, _ in panels([r for s in with_effect for r in s.rows])][1] == "effect_size"
    (path,) = write_figures(tmp_path, [trajectory_spec(with_effect)])
    assert path.name == "trajectory.png" and path.read_bytes()[:4] == b"\x89PNG"
