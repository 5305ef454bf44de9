"""The app's click classes: commands imported only when they run (``infogauss --help`` lists
:data:`COMMANDS` without importing them), help printed by :mod:`.help`."""

from __future__ import annotations

import importlib

import typer
from typer.core import TyperCommand, TyperGroup
from typer.main import get_command_from_info, get_group
from typer.models import CommandInfo

from infogauss_cli.cli.coerce import lighten

Cmd = TyperCommand | TyperGroup


COMMANDS = {  # name -> the listing's line (module infogauss_cli.cli.NAME, function NAME_cmd)
    "extract": "Embed a dataset with one tower of a model and write the raw embeddings to a file.",
    "audit": "Embed the data with each model (cache reused), run the diagnostics, print the "
    "verdict.",
    "compare": "Audit several models into one table (same options as audit). Example: "
    "[bold]infogauss compare resnet34 dino --json r.json[/]",
    "check": "Audit embedding matrices stored in files (.npy .npz .safetensors .pt .csv .tsv "
    ".parquet).",
    "synthetic": "Train encoders on the paper's synthetic inputs with InfoNCE (and a supervised "
    "contrast) and diagnose their embeddings before and after training.",
    "demo": "Run the paper's comparison offline: synthetic encoders and real packaged weights on "
    "real text and images.",
    "track": "Diagnose every checkpoint of a training run on the same data: one row per "
    "checkpoint, and a trajectory plot.",
    "fit": "Fit the Gaussian of a model's embeddings (or a matrix) and save it (docs/use.md).",
    "score": "Score rows under a saved fit: Mahalanobis distance, exact tail p-value, OOD AUROC.",
    "schema": "Print the JSON Schema (2020-12) that every [bold]--json[/] report validates "
    "against.",
    "zoo": "The model zoo: list, show, validate.",
    "data": "Datasets: fetch MS-COCO val2017, show what is here.",
    "cache": "The embedding cache: list, prune, verify.",
}
GROUPS = ("zoo", "data", "cache")  # typer sub-apps, ``app`` in their module
SAME_AS = {"compare": "audit"}  # another name of a command, with the listing's line as help
MODULES = {"fit": "use", "score": "use"}  # commands that share a module


class _Help:
    def format_help(self, ctx: typer.Context, formatter: object) -> None:
        from infogauss_cli.cli.help import print_help  # rich's panels

        print_help(self, ctx)  # type: ignore[arg-type]


class HelpCommand(_Help, TyperCommand):  # type: ignore[misc]
    """A typer command with :func:`.help.print_help`."""


class HelpGroup(_Help, TyperGroup):  # type: ignore[misc]
    """A typer group with :func:`.help.print_help`."""


def load_command(name: str, markup: str | None = "rich") -> Cmd:
    """Import the command's module and build its click command (lightened, :mod:`.coerce`)."""
    home = MODULES.get(name, SAME_AS.get(name, name))
    module = importlib.import_module(f"infogauss_cli.cli.{home}")
    if name in GROUPS:
        group = get_group(module.app)
        group.name, group.help = name, group.help or COMMANDS[name]
        return lighten(group)
    callback = getattr(module, f"{SAME_AS.get(name, name)}_cmd")
    own = COMMANDS[name] if name in SAME_AS else None
    info = CommandInfo(name, cls=HelpCommand, callback=callback, help=own)
    cmd = get_command_from_info(info, pretty_exceptions_short=True, rich_markup_mode=markup)
    return lighten(cmd)


class LazyGroup(HelpGroup):
    """A typer group whose commands are the :data:`COMMANDS` table, imported on first use."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._listing = False
        self._loaded: dict[str, Cmd] = {}

    def list_commands(self, ctx: typer.Context) -> list[str]:
        return [*COMMANDS, *(n for n in super().list_commands(ctx) if n not in COMMANDS)]

    def get_command(self, ctx: typer.Context, cmd_name: str) -> Cmd | None:
        if cmd_name not in COMMANDS:
            return super().get_command(ctx, cmd_name)
        if cmd_name in self._loaded:
            return self._loaded[cmd_name]
        if self._listing:  # the help listing needs the name and one line, not the module
            return TyperCommand(name=cmd_name, help=COMMANDS[cmd_name])
        cmd = self._loaded[cmd_name] = load_command(cmd_name, self.rich_markup_mode)
        return cmd

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        lighten(self)  # the group's own options (typer adds the completion ones late)
        return super().parse_args(ctx, args)

    def format_help(self, ctx: typer.Context, formatter: object) -> None:  # type: ignore[override]
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False
