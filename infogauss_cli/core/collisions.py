"""Outputs that would destroy an input or each other: refused before any work (exit 2).

Two paths are the same file when they name it directly or through links (symbolic or hard:
existing files are compared by device and inode, others by their resolved path). An output
must not be an input of the same run, nor another output of it; a file output must not be an
output folder (``--plots``). At most one output goes to standard output; ``/dev/null`` may be
named any number of times.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from infogauss_cli.core.atomic import is_stdout
from infogauss_cli.core.errors import IOFailure

Named = tuple[str, "str | os.PathLike[str] | None"]
Identity = tuple[object, ...]


def identity(path: str | os.PathLike[str]) -> Identity:
    """What ``path`` is: ``(device, inode)`` of an existing file or folder, else its resolved
    path."""
    resolved = os.path.realpath(Path(path).expanduser())
    try:
        st = os.stat(resolved)
    except OSError:
        return ("path", resolved)
    return ("inode", st.st_dev, st.st_ino)


def _present(named: Iterable[Named]) -> Iterator[tuple[str, str]]:
    """The ``(label, path)`` pairs that name a file (None and ``/dev/null`` left out)."""
    for label, path in named:
        if path is not None and os.path.realpath(str(path)) != os.devnull:
            yield label, str(path)


def check_distinct(
    outputs: Iterable[Named],
    inputs: Iterable[Named] = (),
    folders: Iterable[Named] = (),
) -> None:
    """Refuse an output file (``(option, path)`` of ``outputs``) that is one of ``inputs``
    (``(what, path)``), another output, or one of the output ``folders``: an
    :class:`IOFailure` (exit 2) naming both."""
    seen: dict[Identity, str] = {}
    for what, path in _present(inputs):
        seen.setdefault(identity(path), f"the input {what} {path}")
    for option, path in _present(folders):
        seen.setdefault(identity(path), f"the {option} folder")
    to_stdout: str | None = None
    for option, path in _present(outputs):
        if is_stdout(path):
            if to_stdout is not None:
                fix = "only one output can go to stdout: give the others a file name"
                raise _clash(option, path, f"{to_stdout} goes to stdout too", fix)
            to_stdout = option
            continue
        key = identity(path)
        if key in seen:
            fix = (
                f"writing it would replace that input: choose another {option} path"
                if seen[key].startswith("the input")
                else "give each output its own path"
            )
            raise _clash(option, path, f"it is {seen[key]}", fix)
        seen[key] = f"the {option} output"


def _clash(option: str, path: str, problem: str, fix: str) -> IOFailure:
    return IOFailure(path, f"write {option}", problem, fix, 2)


def data_inputs(spec: str | None) -> list[Named]:
    """The local file or folder a ``--data`` spec reads (``text:lines.txt``), if any."""
    if not spec:
        return []
    path = spec.split(":", 1)[1] if ":" in spec else spec
    return [("--data", path)] if path and Path(path).expanduser().exists() else []
