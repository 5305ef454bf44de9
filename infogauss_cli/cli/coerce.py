"""Command-line values converted without pydantic where that is certain, through typer's public
classes.

typer turns every option value, defaults included, into its type through a pydantic adapter:
importing pydantic and building one adapter per option costs about as much as typer and rich
together (benchmarks/startup.py). Each ``TyperOption`` / ``TyperArgument`` (typer's public
classes) of a command gets click's public ``Parameter.process_value`` wrapped: the plain cases
the commands use (str, bool, int, float with min/max, Path without checks, Enum/Literal
choices given exactly, and lists of them) are converted here; any other value
(another annotation, a parser, a value out of range, a malformed number, a missing required
value...) goes to typer's own ``process_value``, so errors read exactly as typer writes them.
tests/test_cli_startup.py checks both paths agree for every option of every command.
"""

from __future__ import annotations

import re
from enum import Enum
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from typer.core import TyperArgument, TyperOption

_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


class _Slow(Exception):
    """This value goes to typer's own conversion."""


def _number(kind: type, value: Any, info: Any) -> Any:
    if isinstance(value, bool) or info.clamp:
        raise _Slow
    if kind is int and isinstance(value, int):
        out: Any = value
    elif kind is float and isinstance(value, (int, float)):
        out = float(value)
    elif isinstance(value, str) and (_INT if kind is int else _FLOAT).fullmatch(value):
        out = kind(value)
    else:
        raise _Slow
    if (info.min is not None and out < info.min) or (info.max is not None and out > info.max):
        raise _Slow  # typer's message for the range
    return out


def _choice(choices: tuple[Any, ...], value: Any, info: Any, ctx: Any) -> Any:
    if not info.case_sensitive or getattr(ctx, "token_normalize_func", None) is not None:
        raise _Slow
    for choice in choices:
        if isinstance(choice, Enum) and value is choice:
            return value
    for choice in choices:
        if isinstance(value, str) and value == str(
            choice.value if isinstance(choice, Enum) else choice
        ):
            return choice
    raise _Slow


def _leaf(annotation: Any, value: Any, info: Any, ctx: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return _choice(tuple(annotation), value, info, ctx)
    if get_origin(annotation) is Literal:
        return _choice(get_args(annotation), value, info, ctx)
    if annotation is bool and isinstance(value, bool):
        return value
    if annotation is str and isinstance(value, str):
        return value
    if annotation in (int, float):
        return _number(annotation, value, info)
    if (
        annotation is Path
        and isinstance(value, (str, Path))
        and value != "-"
        and info.path_type is None
        and not (info.exists or info.resolve_path or info.writable)
        and info.file_okay
        and info.dir_okay
    ):
        return Path(value)
    raise _Slow


def convert(param: Any, value: Any, ctx: Any) -> Any:
    """``value`` converted as typer would; raises :class:`_Slow` where typer must decide."""
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
        return [_leaf(item, v, info, ctx) for v in items]
    if get_origin(d.annotation) is not None and get_origin(d.annotation) is not Literal:
        raise _Slow
    return _leaf(d.annotation, value, info, ctx)


def _process_value(param: Any, typer_process_value: Any) -> Any:
    """click's ``process_value`` for ``param`` with the plain conversions done here."""

    def process_value(ctx: Any, value: Any) -> Any:
        try:
            out = convert(param, value, ctx)
        except Exception:  # _Slow, or a value typer words its own way
            return typer_process_value(ctx, value)
        if param.required and param.value_is_missing(out):
            return typer_process_value(ctx, value)
        if param.callback is not None:
            out = param.callback(ctx, param, out)
        return out

    process_value.light = True  # type: ignore[attr-defined]
    return process_value


def is_light(param: Any) -> bool:
    return getattr(param.process_value, "light", False)


def _light(param: Any) -> None:
    if isinstance(param, (TyperOption, TyperArgument)) and not is_light(param):
        param.process_value = _process_value(param, param.process_value)


def lighten(command: Any) -> Any:
    """Give every typer parameter of ``command`` (and of its subcommands), its ``--help``
    included, the light conversion; returns ``command``."""
    for sub in getattr(command, "commands", {}).values():
        lighten(sub)
    for param in command.params:
        _light(param)
    if "get_help_option" not in vars(command):  # built on first use, from the context
        get = command.get_help_option

        def get_help_option(ctx: Any) -> Any:
            option = get(ctx)
            if option is not None:
                _light(option)
            return option

        command.get_help_option = get_help_option
    return command


__all__ = ["convert", "is_light", "lighten"]
