"""Help laid out as typer's rich renderer does (usage, text, a panel per ``rich_help_panel``),
without that renderer's costly imports (rich.markdown, rich.traceback)."""

from __future__ import annotations

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


def _highlighter(*patterns: str) -> RegexHighlighter:  # typer's styles
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
        first = [inspect.cleandoc(c.short_help or c.help or "").split("\n\n")[0] for c in subs]
        rows = [[c.name or "", _text(f.strip())] for c, f in zip(subs, first, strict=True)]
        console.print(_panel("Commands", rows, max(len(c.name or "") for c in subs)))
