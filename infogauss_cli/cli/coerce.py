"""Command-line values converted without pydantic where that is certain (typer builds a costly
pydantic adapter per option): plain values here, anything else by typer's own conversion."""

from __future__ import annotations

import re
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Literal, get_args, get_origin

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption
from typer.models import ParameterInfo

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


def _choice(
    choices: tuple[object, ...], value: object, info: ParameterInfo, ctx: typer.Context
) -> object:
    if not info.case_sensitive or ctx.token_normalize_func is not None:
        raise _Slow
    if any(value is c for c in choices if isinstance(c, Enum)):
        return value
    for choice in choices:
        if isinstance(value, str) and value == str(getattr(choice, "value", choice)):
            return choice
    raise _Slow


def _leaf(kind: object, value: object, info: ParameterInfo, ctx: typer.Context) -> object:
    if isinstance(kind, type) and issubclass(kind, Enum):
        return _choice(tuple(kind), value, info, ctx)
    if get_origin(kind) is Literal:
        return _choice(get_args(kind), value, info, ctx)
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
        return [_leaf(item, v, info, ctx) for v in items]
    if get_origin(d.annotation) not in (None, Literal):
        raise _Slow
    return _leaf(d.annotation, value, info, ctx)


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


def lighten(command: TyperCommand | TyperGroup) -> TyperCommand | TyperGroup:
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
