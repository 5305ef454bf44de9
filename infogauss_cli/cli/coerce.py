"""Command-line values converted without pydantic, the way typer's own adapters convert them.

typer (0.29) turns every option value, defaults included, into its type through a pydantic
``TypeAdapter``: importing pydantic and building one adapter per option costs about as much as
typer and rich together (benchmarks/startup.py). For the plain annotations the commands use
(str, bool, int, float with min/max, Path, Enum/Literal choices and lists of them) this module
does the conversion typer's adapters do, with the same leaf functions (``coerce_cli_choice``,
``coerce_cli_path``). Any value it does not convert with certainty (another annotation, a
parser, a value out of range, a malformed number...) goes to typer's own adapter, so errors and
edge cases read exactly as typer writes them. tests/test_cli_startup.py checks both paths agree.
"""

from __future__ import annotations

import re
from enum import Enum
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


class _Slow(Exception):
    """This value goes to typer's adapter."""


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


def _leaf(annotation: Any, value: Any, info: Any, param: Any, ctx: Any) -> Any:
    from typer._param_types import coerce_cli_choice, coerce_cli_path, lenient_issubclass

    if lenient_issubclass(annotation, Enum) or get_origin(annotation) is Literal:
        choices = tuple(annotation) if isinstance(annotation, type) else get_args(annotation)
        try:
            return coerce_cli_choice(
                value, choices=choices, case_sensitive=info.case_sensitive, ctx=ctx
            )
        except ValueError:
            raise _Slow from None
    if annotation is bool and isinstance(value, bool):
        return value
    if annotation is str and isinstance(value, str):
        return value
    if annotation in (int, float):
        return _number(annotation, value, info)
    if annotation is Path and isinstance(value, (str, Path)) and value != "-":
        kind = info.path_type or Path
        if kind is Path:  # str -> Path as pydantic does, then typer's own checks
            return coerce_cli_path(Path(value), info, path_type=Path, param=param, ctx=ctx)
    raise _Slow


class LightRuntimeParam:
    """A typer ``RuntimeParam`` that converts the plain cases itself and hands the rest to the
    adapter typer would have built (built only then)."""

    def __init__(self, descriptor: Any) -> None:
        self.descriptor = descriptor
        self._real: Any = None

    def real(self) -> Any:
        if self._real is None:
            from typer._coercion import build_runtime_param

            self._real = build_runtime_param(self.descriptor)
        return self._real

    def fast(self, value: Any, param: Any, ctx: Any) -> Any:
        """The converted value; raises :class:`_Slow` where typer's adapter must decide."""
        d = self.descriptor
        info = d.parameter_info
        if d.file_annotation is not None or info.parser is not None:
            raise _Slow
        if get_origin(d.annotation) is list:
            (item,) = get_args(d.annotation)
            items = value if isinstance(value, (list, tuple)) else [value]
            return [_leaf(item, v, info, param, ctx) for v in items]
        if get_origin(d.annotation) is not None and get_origin(d.annotation) is not Literal:
            raise _Slow
        return _leaf(d.annotation, value, info, param, ctx)

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        multi = param.multiple or param.nargs == -1
        if value is None:
            return () if multi else None
        if not (multi and isinstance(value, str)):
            try:
                return self.fast(value, param, ctx)
            except Exception:  # _Slow, or an error typer words its own way
                pass
        return self.real().coerce(value, param=param, ctx=ctx)


def _light(param: Any) -> None:
    if hasattr(param, "type_descriptor") and getattr(param, "_runtime_param", 0) is None:
        param._runtime_param = LightRuntimeParam(param.type_descriptor)


def lighten(command: Any) -> Any:
    """Give every typer parameter of ``command`` (and of its subcommands), its ``--help``
    included, the light conversion; returns ``command``. Parameters of a typer without these
    internals are left as they are."""
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


__all__ = ["LightRuntimeParam", "lighten"]
