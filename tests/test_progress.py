"""Progress bars: silent unless turned on for a terminal; training, plots and bootstrap report."""

from __future__ import annotations

import io

import numpy as np
import pytest
from rich.console import Console

from infogauss_cli import progress
from infogauss_cli.cli.errors import _quiet


def _terminal() -> Console:
    return Console(file=io.StringIO(), force_terminal=True, width=100, record=True)


def test_steps_are_silent_without_bars(capsys):
    with progress.steps("work", 3) as advance:
        advance()
    assert list(progress.track([1, 2, 3], "items")) == [1, 2, 3]
    assert capsys.readouterr() == ("", "")


def test_bars_show_nested_steps_on_a_terminal():
    console = _terminal()
    with progress.bars(console), progress.steps("outer step", 2) as advance:
        assert list(progress.track(range(4), "inner items")) == [0, 1, 2, 3]
        advance(2)
    text = console.export_text()
    assert "outer step" in text and "inner items" in text


def test_bars_off_when_not_a_terminal_or_disabled():
    plain = Console(file=io.StringIO(), force_terminal=False, record=True)
    with progress.bars(plain), progress.steps("hidden", 1) as advance:
        advance()
    with progress.bars(_terminal(), enabled=False), progress.steps("hidden", 1) as advance:
        advance()
    assert "hidden" not in plain.export_text()


@pytest.mark.slow  # imports torch
def test_training_advances_once_per_step():
    from infogauss_cli.synthetic.data import DataSpec, population
    from infogauss_cli.synthetic.model import build_encoder
    from infogauss_cli.synthetic.train import TrainConfig, train

    spec = DataSpec(kind="laplace", dim=8)
    pop = population(spec, seed=0)
    encoder = build_encoder("linear", 8, 4)
    cfg = TrainConfig(epochs=3, steps_per_epoch=2, batch_size=8)
    calls = []
    train(encoder, pop, cfg, np.random.default_rng(0), on_step=lambda: calls.append(1))
    assert len(calls) == 6


def test_quiet_detection():
    class Opts:
        quiet = True

    assert _quiet({"quiet": True}) and _quiet({"out": Opts()})
    assert not _quiet({"quiet": False, "n": 3})


def test_a_note_during_a_step_prints_through_the_bars_console():
    """A line printed on another console while a bar shows left a frozen "0/480" bar behind
    (``synthetic``); :func:`progress.note` prints through the bars' own console."""
    bars_console, other = _terminal(), Console(file=io.StringIO(), record=True)
    with progress.bars(bars_console), progress.steps("train", 480):
        progress.note("run A E0: 0.0 s training", other)
    assert "run A E0" in bars_console.export_text()
    assert other.export_text() == ""
    progress.note("after the bars", other)
    assert "after the bars" in other.export_text()


def test_building_a_model_shows_a_loading_spinner(monkeypatch):
    import infogauss_cli.backends as backends
    from infogauss_cli.extract.model import build_shown

    seen = []

    def build(entry, tower):
        seen.extend(t.description for t in progress._ACTIVE.get().progress.tasks)
        return "encoder"

    monkeypatch.setattr(backends, "build_encoder", build)
    entry = type("Entry", (), {"ref": "resnet34"})()
    with progress.bars(_terminal()):
        assert build_shown(entry, "image") == "encoder"
    assert seen == ["loading resnet34 weights (image tower)"]
