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
