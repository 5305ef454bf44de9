"""Start-up helpers of the CLI. The light value conversion (infogauss_cli/cli/lazy.py) gives
what typer's pydantic adapters give: the same value for every option of every command, or it
leaves the value to typer. The help formatter's stand-ins (cli/lighthelp.py) act as the real
classes. (What a start-up imports is checked in tests/diagnostics/test_memory.py.)"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Any, get_args, get_origin

import pytest
import typer
from typer.core import TyperArgument, TyperOption

from infogauss_cli.cli.lazy import COMMANDS, convert, is_light, load_command

SAMPLES: dict[Any, list[Any]] = {
    int: ["0", "7", "-3", "+5", "007", " 5", "5.0", "1_000", "abc", "", "20", "19", 12, True],
    float: ["0.05", "1e-3", ".5", "5.", "inf", "nan", " 1", "1_0", "x", "0", "1", "2", 3, 0.5],
    str: ["abc", "", "a b", "-"],
    bool: [True, False, "true", "0"],
    Path: ["a/b", "", "-", "~", ".", Path("x")],
}


def _commands():
    def walk(cmd):
        yield cmd
        for sub in getattr(cmd, "commands", {}).values():
            yield from walk(sub)

    for name in COMMANDS:
        yield from walk(load_command(name))


def _samples(annotation: Any) -> list[Any]:
    if get_origin(annotation) is list:
        (item,) = get_args(annotation)
        return [[v] for v in _samples(item)[:4]] + [_samples(item)[:3], "single"]
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        values = [m.value for m in annotation]
        return [*annotation, *values, values[0].upper(), "bogus", ""]
    return SAMPLES.get(annotation, ["abc", "1"])


def _typer(param: Any, value: Any, ctx: Any) -> Any:
    try:
        return ("ok", param.get_runtime_param().coerce(value, param=param, ctx=ctx))
    except Exception as exc:  # the error typer would show
        return ("error", type(exc).__name__, str(exc))


def test_every_option_converts_as_typer_does():
    checked = fast = 0
    for cmd in _commands():
        ctx = typer.Context(cmd)
        for param in cmd.params:
            desc = param.type_descriptor
            for value in [param.default, None, *_samples(desc.annotation)]:
                checked += 1
                try:
                    light = convert(param, value, ctx)
                except Exception:
                    continue  # left to typer
                assert ("ok", light) == _typer(param, value, ctx), (cmd.name, param.name, value)
                fast += 1
    assert checked > 500 and fast > checked / 3  # most plain values skip pydantic


def test_light_conversion_is_what_the_commands_use():
    from infogauss_cli.cli.lazy import lighten

    cmd = load_command("check")
    assert all(is_light(p) for p in cmd.params)
    assert all(isinstance(p, (TyperOption, TyperArgument)) for p in cmd.params)
    assert lighten(cmd) is cmd  # idempotent
    ctx = typer.Context(cmd)
    assert is_light(cmd.get_help_option(ctx))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--seed", "-1"], "--seed"),  # out of range: typer's own wording
        (["--alpha", "abc"], "--alpha"),
        (["--view", "bogus"], "--view"),
    ],
)
def test_bad_values_still_read_as_typer_writes_them(tmp_path, args, message):
    import numpy as np

    from tests.support.cli import invoke

    np.save(tmp_path / "x.npy", np.zeros((30, 4), np.float32))
    r = invoke("check", tmp_path / "x.npy", *args)
    assert r.exit_code == 2 and message in r.output


def test_help_is_typers_layout_without_its_renderer():
    """cli/lazy.py renders the help panels itself (click's public ``format_help``): the same
    text as typer's renderer, which imports rich.markdown and rich.traceback."""
    import subprocess
    import sys

    code = (
        "import sys; from typer.testing import CliRunner; "
        "from infogauss_cli.cli.main import app; "
        "out = CliRunner().invoke(app, ['check', '--help']).output; "
        "assert 'markdown_it' not in sys.modules and 'pygments' not in sys.modules; "
        "assert 'typer.rich_utils' not in sys.modules; "
        "import rich.markdown; assert hasattr(rich.markdown, 'MarkdownContext'); "
        "print('--memory-budget' in out, 'Usage' in out, '╭─ Gates' in out, "
        "'[default: 0.05]' in out)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.stdout.split() == ["True"] * 4, r.stdout + r.stderr


def test_help_matches_typers_renderer(capsys):
    """Every command's help, and the listing, reads as typer's own renderer writes it."""
    from typer import rich_utils
    from typer.main import get_command

    from infogauss_cli.cli.help import print_help
    from infogauss_cli.cli.main import app

    root = get_command(app)
    root._listing = True  # what the listing shows: the table's one-line helps
    for cmd in [root, *_commands()]:
        ctx = typer.Context(cmd, info_name=cmd.name)
        print_help(cmd, ctx)
        ours = capsys.readouterr().out
        rich_utils.rich_format_help(obj=cmd, ctx=ctx, markup_mode="rich")
        assert ours == capsys.readouterr().out, cmd.name
