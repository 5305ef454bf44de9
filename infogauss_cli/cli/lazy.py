"""The app's click classes: commands imported only when they run (``infogauss --help`` lists
:data:`COMMANDS` without importing them), help printed by :mod:`.help`, and command-line values
converted without pydantic where that is certain (typer builds a costly pydantic adapter per
option): plain values here, anything else by typer's own conversion."""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import get_args, get_origin

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption
from typer.main import get_command_from_info, get_group
from typer.models import CommandInfo, ParameterInfo

Cmd = TyperCommand | TyperGroup
Param = TyperOption | TyperArgument
_NUMBER = {
    int: re.compile(r"[+-]?[0-9]+"),
    float: re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"),
}


class _Slow(Exception):  # this value goes to typer's own conversion
    pass


def _number(kind: type, value: object, info: ParameterInfo) -> int | float:
    if isinstance(value, bool) or info.clamp:
        raise _Slow
    text = isinstance(value, str) and _NUMBER[kind].fullmatch(value)
    if not (text or isinstance(value, (int, float) if kind is float else int)):
        raise _Slow
    out = kind(value)
    if (info.min is not None and out < info.min) or (info.max is not None and out > info.max):
        raise _Slow  # typer's message for the range
    return out  # type: ignore[no-any-return]


def _leaf(kind: object, value: object, info: ParameterInfo) -> object:
    if isinstance(kind, type) and issubclass(kind, Enum):  # case-sensitive, as every vocabulary
        for choice in kind:
            if value is choice or (isinstance(value, str) and value == choice.value):
                return choice
        raise _Slow
    if (kind is bool and isinstance(value, bool)) or (kind is str and isinstance(value, str)):
        return value
    if kind in (int, float):
        return _number(kind, value, info)  # type: ignore[arg-type]
    plain = info.path_type is None and info.file_okay and info.dir_okay
    checks = info.exists or info.resolve_path or info.writable
    if kind is Path and isinstance(value, (str, Path)) and value != "-" and plain and not checks:
        return Path(value)
    raise _Slow


def convert(param: Param, value: object, ctx: typer.Context) -> object:
    """``value`` converted as typer would (:class:`_Slow` where typer must decide)."""
    d = param.type_descriptor
    info = d.parameter_info
    if d.file_annotation is not None or info.parser is not None:
        raise _Slow
    multi = param.multiple or param.nargs == -1
    if value is None:
        return () if multi else None
    if multi and isinstance(value, str):
        raise _Slow
    if get_origin(d.annotation) is list:
        (item,) = get_args(d.annotation)
        items = value if isinstance(value, (list, tuple)) else [value]
        return [_leaf(item, v, info) for v in items]
    if get_origin(d.annotation) is not None:
        raise _Slow
    return _leaf(d.annotation, value, info)


def _light(param: object) -> None:
    if not isinstance(param, (TyperOption, TyperArgument)) or is_light(param):
        return
    typers = param.process_value

    def process_value(ctx: typer.Context, value: object) -> object:
        try:
            out = convert(param, value, ctx)
        except Exception:  # _Slow, or a value typer words its own way
            return typers(ctx, value)
        if param.required and param.value_is_missing(out):
            return typers(ctx, value)
        return param.callback(ctx, param, out) if param.callback is not None else out

    process_value.light = True  # type: ignore[attr-defined]
    param.process_value = process_value  # type: ignore[method-assign]


def is_light(param: Param) -> bool:
    return getattr(param.process_value, "light", False)


def lighten(command: Cmd) -> Cmd:
    """The light conversion for every parameter of ``command`` and its subcommands (--help too)."""
    for sub in getattr(command, "commands", {}).values():
        lighten(sub)
    for param in command.params:
        _light(param)
    if "get_help_option" not in vars(command):  # built on first use, from the context
        get: Callable[[typer.Context], object] = command.get_help_option

        def get_help_option(ctx: typer.Context) -> object:
            option = get(ctx)
            _light(option)
            return option

        command.get_help_option = get_help_option  # type: ignore[method-assign,assignment]
    return command


COMMANDS = {  # name -> the listing's line (function NAME_cmd)
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
GROUPS = {"zoo": "app", "data": "app", "cache": "cache_app"}  # typer sub-apps in their module
SAME_AS = {"compare": "audit"}  # another name of a command, with the listing's line as help
HOME = {"compare": "audit", "check": "audit", "extract": "audit", "demo": "synthetic"}
HOME |= {"schema": "output", "fit": "use", "score": "use", "cache": "data"}


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
    module = importlib.import_module(f"infogauss_cli.cli.{HOME.get(name, name)}")
    if name in GROUPS:
        group = get_group(getattr(module, GROUPS[name]))
        group.name, group.help = name, group.help or COMMANDS[name]
        return lighten(group)
    callback = getattr(module, f"{SAME_AS.get(name, name)}_cmd")
    own = COMMANDS[name] if name in SAME_AS else None
    info = CommandInfo(name, cls=HelpCommand, callback=callback, help=own)
    cmd = get_command_from_info(info, pretty_exceptions_short=True, rich_markup_mode=markup)
    return lighten(cmd)


def sub_app(help_text: str) -> typer.Typer:
    """A command group of :data:`GROUPS` (its subcommands: ``cls=HelpCommand``)."""
    return typer.Typer(cls=HelpGroup, help=help_text, no_args_is_help=True, rich_markup_mode="rich")


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
