"""Commands registered lazily: a command's module is imported only when that command runs.

``infogauss --help`` lists every command from the table below without importing any command
module (their imports: numpy, the report, the zoo...), so it costs little more than typer and
rich themselves (benchmarks/startup.py). A command is loaded on first use by
:meth:`LazyGroup.get_command`: its module is imported and the typer command (or sub-app)
built then.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from typer.core import TyperCommand, TyperGroup
from typer.main import get_command_from_info, get_group
from typer.models import CommandInfo


@dataclass(frozen=True)
class LazyCommand:
    """Where a command lives (``infogauss_cli.cli.<module>.<attr>``: a command function, or a
    ``typer.Typer`` sub-app with ``group=True``) and its one-line help for the listing.
    ``help`` is also the command's help when ``full_help`` is set (else its docstring)."""

    module: str
    attr: str
    help: str
    group: bool = False
    full_help: bool = False


COMMANDS: dict[str, LazyCommand] = {
    "extract": LazyCommand(
        "extract",
        "extract_cmd",
        "Embed a dataset with one tower of a model and write the raw embeddings to a file.",
    ),
    "audit": LazyCommand(
        "audit",
        "audit_cmd",
        "Embed the data with each model (cache reused), run the diagnostics, print the verdict.",
    ),
    "compare": LazyCommand(
        "audit",
        "audit_cmd",
        "Audit several models into one table (same options as audit). Example: "
        "[bold]infogauss compare resnet34 dino --json r.json[/]",
        full_help=True,
    ),
    "check": LazyCommand(
        "check",
        "check_cmd",
        "Audit embedding matrices stored in files (.npy .npz .safetensors .pt .csv .tsv .parquet).",
    ),
    "synthetic": LazyCommand(
        "synthetic",
        "synthetic_cmd",
        "Train encoders on the paper's synthetic inputs with InfoNCE (and a supervised "
        "contrast) and diagnose their embeddings before and after training.",
    ),
    "demo": LazyCommand(
        "demo",
        "demo_cmd",
        "Run the paper's comparison offline: synthetic encoders and real packaged weights on "
        "real text and images.",
    ),
    "track": LazyCommand(
        "track",
        "track_cmd",
        "Diagnose every checkpoint of a training run on the same data: one row per "
        "checkpoint, and a trajectory plot.",
    ),
    "schema": LazyCommand(
        "schema",
        "schema_cmd",
        "Print the JSON Schema (2020-12) that every [bold]--json[/] report validates against.",
    ),
    "zoo": LazyCommand("zoo", "app", "The model zoo: list, show, validate.", group=True),
    "data": LazyCommand(
        "data", "app", "Datasets: fetch MS-COCO val2017, show what is here.", group=True
    ),
    "cache": LazyCommand("cache", "app", "The embedding cache: list, prune, verify.", group=True),
}


def load_command(name: str, spec: LazyCommand, markup: Any) -> Any:
    """Import the command's module and build its click command (values converted by
    :mod:`.coerce`, without pydantic where it can)."""
    from infogauss_cli.cli.coerce import lighten

    obj = getattr(importlib.import_module(f"infogauss_cli.cli.{spec.module}"), spec.attr)
    if spec.group:
        group = get_group(obj)
        group.name = name
        group.help = group.help or spec.help
        return lighten(group)
    info = CommandInfo(name=name, callback=obj, help=spec.help if spec.full_help else None)
    cmd = get_command_from_info(info, pretty_exceptions_short=True, rich_markup_mode=markup)
    return lighten(cmd)


class LazyGroup(TyperGroup):
    """A typer group whose commands are the :data:`COMMANDS` table, imported on first use."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._listing = False
        self._loaded: dict[str, Any] = {}

    def list_commands(self, ctx: Any) -> list[str]:
        return [*COMMANDS, *(n for n in super().list_commands(ctx) if n not in COMMANDS)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        spec = COMMANDS.get(cmd_name)
        if spec is None:
            return super().get_command(ctx, cmd_name)
        if cmd_name in self._loaded:
            return self._loaded[cmd_name]
        if self._listing:  # the help listing needs the name and one line, not the module
            return TyperCommand(name=cmd_name, help=spec.help)
        cmd = load_command(cmd_name, spec, self.rich_markup_mode)
        self._loaded[cmd_name] = cmd
        return cmd

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        from infogauss_cli.cli.coerce import lighten

        lighten(self)  # the group's own options (typer adds the completion ones late)
        return super().parse_args(ctx, args)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


__all__ = ["COMMANDS", "LazyCommand", "LazyGroup"]
