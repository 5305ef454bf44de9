"""Progress bars: silent unless turned on for a terminal; training, plots and bootstrap report."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from infogauss_cli.cli.errors import RichChannel, handle_errors
from infogauss_cli.core import progress


def _terminal() -> Console:
    return Console(file=io.StringIO(), force_terminal=True, width=100, record=True)


def test_steps_are_silent_without_bars(capsys):
    with progress.steps("work", 3) as advance:
        advance()
    assert list(progress.track([1, 2, 3], "items")) == [1, 2, 3]
    assert capsys.readouterr() == ("", "")


def test_bars_show_nested_steps_on_a_terminal():
    console = _terminal()
    with progress.listening(RichChannel(console)), progress.steps("outer step", 2) as advance:
        assert list(progress.track(range(4), "inner items")) == [0, 1, 2, 3]
        advance(2)
    text = console.export_text()
    assert "outer step" in text and "inner items" in text


def test_bars_off_when_not_a_terminal_or_disabled():
    plain = Console(file=io.StringIO(), force_terminal=False, record=True)
    with progress.listening(RichChannel(plain)), progress.steps("hidden", 1) as advance:
        advance()
    quiet = _terminal()
    quiet.quiet = True  # --quiet
    with progress.listening(RichChannel(quiet)), progress.steps("hidden", 1) as advance:
        advance()
        progress.note("not shown")
    assert "hidden" not in plain.export_text() and quiet.export_text() == ""


@pytest.mark.slow  # imports torch
def test_training_advances_once_per_step():
    from infogauss_cli.pipelines.synthetic.train import (
        DataSpec,
        Run,
        SyntheticConfig,
        build_encoder,
        population,
        train,
    )

    spec = DataSpec(kind="laplace", dim=8)
    pop = population(spec, seed=0)
    encoder = build_encoder("linear", 8, 4)
    cfg = SyntheticConfig(epochs=3, steps_per_epoch=2, batch_size=8)
    calls = []
    train(encoder, pop, cfg, Run("laplace", "linear"), on_step=lambda: calls.append(1))
    assert len(calls) == 6


def test_quiet_commands_get_a_quiet_channel(capsys):
    @handle_errors
    def command(**params: object) -> None:
        progress.note("a note")

    command(quiet=True)
    assert capsys.readouterr().err == ""
    command(quiet=False, n=3)
    assert "a note" in capsys.readouterr().err


def test_a_note_during_a_step_prints_through_the_bars_console():
    """A line printed on another console while a bar shows left a frozen "0/480" bar behind
    (``synthetic``); :func:`progress.note` prints through the bars' own console."""
    console = _terminal()
    channel = RichChannel(console)
    with progress.listening(channel), progress.steps("train", 480):
        assert channel.progress.console is console
        progress.note("run A E0: 0.0 s training")
    with progress.listening(channel):
        progress.note("after the bars")
    text = console.export_text()
    assert "run A E0" in text and "after the bars" in text


def test_a_note_without_a_channel_is_a_log_warning(caplog):
    progress.note("[yellow]chunk 3 recomputed[/]")
    assert [r.getMessage() for r in caplog.records] == ["chunk 3 recomputed"]


def test_building_a_model_shows_a_loading_spinner(monkeypatch):
    import infogauss_cli.models.catalogue as backends
    from infogauss_cli.extract.model import build_shown

    seen = []

    def build(entry, tower):
        seen.extend(t.description for t in progress._ACTIVE.get().progress.tasks)
        return "encoder"

    monkeypatch.setattr(backends, "build_encoder", build)
    entry = type("Entry", (), {"ref": "resnet34"})()
    with progress.listening(RichChannel(_terminal())):
        assert build_shown(entry, "image") == "encoder"
    assert seen == ["loading resnet34 weights (image tower)"]
