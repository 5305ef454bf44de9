"""The app's click classes: commands registered lazily (a command's module is imported only when
that command runs, so ``infogauss --help`` lists them from :data:`COMMANDS` without importing
them) and their help, rendered with rich's panels by :func:`print_help` through click's public
``format_help`` (typer's own renderer imports rich.markdown and rich.traceback: start-up time)."""

from __future__ import annotations

import importlib
import inspect
import os
from collections.abc import Sequence
from enum import Enum

import typer
from rich.columns import Columns
from rich.console import Console, Group, RenderableType
from rich.highlighter import RegexHighlighter
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from rich.theme import Theme
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption
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
    "schema": "Print the JSON Schema (2020-12) that every [bold]--json[/] report validates "
    "against.",
    "zoo": "The model zoo: list, show, validate.",
    "data": "Datasets: fetch MS-COCO val2017, show what is here.",
    "cache": "The embedding cache: list, prune, verify.",
}
GROUPS = ("zoo", "data", "cache")  # typer sub-apps, ``app`` in their module
SAME_AS = {"compare": "audit"}  # another name of a command, with the listing's line as help


def _highlighter(*patterns: str) -> RegexHighlighter:
    """Styles for options and types in help text, as typer highlights them."""
    return type("Highlighter", (RegexHighlighter,), {"highlights": list(patterns)})()


THEME = Theme(
    {
        "option": "bold cyan",
        "switch": "bold green",
        "negative_option": "bold magenta",
        "negative_switch": "bold red",
        "types": "bold yellow",
        "types_sep": "dim",
        "usage": "yellow",
    }
)
OPTION = r"(^|\W)(?P<{}>\-\w+)(?![a-zA-Z0-9])", r"(^|\W)(?P<{}>\-\-[\w\-]+)(?![a-zA-Z0-9])"
HIGHLIGHT = _highlighter(
    OPTION[0].format("switch"),
    OPTION[1].format("option"),
    r"(?P<types>\<[^\>]+\>)",
    r"(?P<usage>Usage: )",
)
NEGATIVE = _highlighter(OPTION[0].format("negative_switch"), OPTION[1].format("negative_option"))
TYPES = _highlighter(
    r"^(?P<types_sep>(\[|<))", r"(?P<types_sep>\|)", r"(?P<types_sep>(\]|>))(\.\.\.)?$"
)


def _text(text: str, style: str = "") -> Text:
    return HIGHLIGHT(Text.from_markup(inspect.cleandoc(text), style=style))


def _default(param: TyperOption | TyperArgument, ctx: typer.Context) -> str:
    """The ``[default: ...]`` typer shows: enums by value, flags by the name of the switch."""
    if isinstance(param.show_default, str):
        return f"({param.show_default})"
    value = param.get_default(ctx, call=False)
    if value is None or not (param.show_default or ctx.show_default):
        return ""
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(param, TyperOption) and param.is_bool_flag:
        if param.secondary_opts:
            return (param.opts if value else param.secondary_opts)[0].lstrip("-/")
        return str(value) if value else ""
    return str(value)


def _row(param: TyperOption | TyperArgument, ctx: typer.Context) -> list[RenderableType]:
    name = param.display_name_raw if isinstance(param, TyperArgument) else ""
    if isinstance(param, TyperArgument) and param.metavar is None and param.nargs != 1:
        name += "..."
    long = [o for o in param.opts if "--" in o]
    short = [name or o for o in param.opts if "--" not in o]
    types = Text(param.display_type_rich(ctx) or "", style="bold yellow", overflow="fold")
    low, high = getattr(param, "min", None), getattr(param, "max", None)
    if low is not None or high is not None:
        bounds = f"{low}<=x<={high}" if None not in (low, high) else None
        types.append(f" [{bounds or (f'x>={low}' if high is None else f'x<={high}')}]")
    items: list[Text] = [_text(" ".join(param.help.split()))] if param.help else []
    if default := _default(param, ctx):
        items.append(Text(f"[default: {default}]", style="dim"))
    if param.required:
        items.append(Text("[required]", style="dim red"))
    negative = [o for o in param.secondary_opts if "--" in o]
    names = [HIGHLIGHT(",".join(long)), HIGHLIGHT(",".join(short)), NEGATIVE(",".join(negative))]
    return [*names, "", TYPES(types), Columns(items)]


def _panel(title: str, rows: Sequence[Sequence[RenderableType]], width: int = 0) -> Panel:
    table = Table(show_header=False, expand=True, box=None, pad_edge=False, padding=(0, 1))
    if width:  # the commands: names in one column as wide as the longest
        table.add_column(style="bold cyan", no_wrap=True, width=width)
        table.add_column(ratio=10)
    for row in rows:
        table.add_row(*row)
    return Panel(table, border_style="dim", title=title, title_align="left")


def print_help(cmd: TyperCommand | TyperGroup, ctx: typer.Context) -> None:
    """``cmd``'s help on stdout: usage, its text, one panel per ``rich_help_panel``."""
    width = os.environ.get("TERMINAL_WIDTH")
    console = Console(theme=THEME, highlighter=HIGHLIGHT, width=int(width) if width else None)
    console.print(Padding(HIGHLIGHT(cmd.get_usage(ctx)), 1), style="bold")
    if cmd.help:
        first, *rest = inspect.cleandoc(cmd.help).partition("\f")[0].split("\n\n")
        parts = [_text(first.replace("\n", " ").strip())]
        parts += [Text(""), _text("\n\n".join(rest), style="dim")] if rest else []
        console.print(Padding(Group(*parts), (0, 1, 1, 1)))
    panels: dict[str, list[TyperOption | TyperArgument]] = {"Arguments": [], "Options": []}
    params = [p for p in cmd.get_params(ctx) if isinstance(p, TyperArgument)]
    params += [p for p in cmd.get_params(ctx) if isinstance(p, TyperOption) and not p.hidden]
    for param in params:
        default = "Arguments" if isinstance(param, TyperArgument) else "Options"
        panels.setdefault(getattr(param, "rich_help_panel", None) or default, []).append(param)
    for title, members in panels.items():
        marks = [Text("*", style="red") if p.required else "" for p in members]
        rows = [
            [*([m] if any(marks) else []), *_row(p, ctx)]
            for m, p in zip(marks, members, strict=True)
        ]
        if rows:
            console.print(_panel(title, rows))
    if isinstance(cmd, TyperGroup):
        names = cmd.list_commands(ctx)
        subs = [c for c in (cmd.get_command(ctx, n) for n in names) if c and not c.hidden]
        rows = [[c.name or "", _text(_first(c.short_help or c.help or ""))] for c in subs]
        console.print(_panel("Commands", rows, max(len(c.name or "") for c in subs)))


def _first(text: str) -> str:
    return inspect.cleandoc(text).split("\n\n")[0].strip()


class HelpCommand(TyperCommand):
    """A typer command with :func:`print_help` and the light conversion of :mod:`.coerce`."""

    def format_help(self, ctx: typer.Context, formatter: object) -> None:  # type: ignore[override]
        print_help(self, ctx)


class HelpGroup(TyperGroup):
    def format_help(self, ctx: typer.Context, formatter: object) -> None:  # type: ignore[override]
        print_help(self, ctx)


def load_command(name: str, markup: str | None = "rich") -> Cmd:
    """Import the command's module and build its click command (values converted by
    :mod:`.coerce`, without pydantic where it can)."""
    module = importlib.import_module(f"infogauss_cli.cli.{SAME_AS.get(name, name)}")
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
            print_help(self, ctx)
        finally:
            self._listing = False


__all__ = ["COMMANDS", "HelpCommand", "HelpGroup", "LazyGroup", "load_command", "print_help"]
