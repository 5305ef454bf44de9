"""SIGTERM (a scheduler's pre-emption) and a second Ctrl-C: the command says what was kept and
exits 3, in a real process (signals need the main thread)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

# a command that, like extraction, keeps its cache on KeyboardInterrupt (and is slow to save)
SCRIPT = textwrap.dedent(
    """
    import os, signal, sys, time
    from infogauss_cli.cli.errors import handle_errors
    from infogauss_cli.core.errors import RunError

    @handle_errors
    def command(quiet=False):
        try:
            os.kill(os.getpid(), getattr(signal, sys.argv[1]))
            time.sleep(5)
        except KeyboardInterrupt:
            if sys.argv[2] == "twice":
                os.kill(os.getpid(), signal.SIGINT)  # a second Ctrl-C while saving
                time.sleep(0.2)
            raise RunError("interrupted; rerun the same command to resume (40 of 90 items cached)")

    try:
        command()
    except Exception as exc:  # typer.Exit(code) outside an app
        sys.exit(getattr(exc, "exit_code", 1))
    """
)


def _run(first: str, times: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run([sys.executable, "-c", SCRIPT, first, times], capture_output=True,
                          text=True, timeout=60, env=env)  # fmt: skip


@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
def test_sigterm_says_what_was_kept_and_exits_3():
    r = _run("SIGTERM", "once")
    assert r.returncode == 3, (r.returncode, r.stderr)
    assert "terminated (SIGTERM); rerun the same command to resume (40 of 90" in r.stderr


@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
def test_second_ctrl_c_still_saves_and_exits_3():
    r = _run("SIGINT", "twice")
    assert r.returncode == 3, (r.returncode, r.stderr)
    assert "still saving" in r.stderr and "40 of 90 items cached" in r.stderr


def test_signal_handlers_are_restored():
    from infogauss_cli.cli.errors import stopping_signals

    before = signal.getsignal(signal.SIGTERM)
    with stopping_signals():
        assert signal.getsignal(signal.SIGTERM) is not before
    assert signal.getsignal(signal.SIGTERM) is before
