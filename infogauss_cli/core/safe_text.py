"""Show user-supplied text safely (control characters escaped, never sent to the terminal; rich
markup shown literally; Markdown cells escaped), and keep paths named in data files inside their
folder."""

from __future__ import annotations

import re
from pathlib import PurePosixPath, PureWindowsPath

# control characters, bidi overrides, and lone surrogates (the undecodable bytes of a non-UTF-8
# file name, os.fsdecode's \udcXX): all shown as escapes, never written raw
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def printable(text: object) -> str:
    """``text`` with every control character shown as an escape (``\\x1b``, ``\\n``)."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), str(text))


def printable_lines(text: object) -> str:
    """:func:`printable`, but a line break before an indented line stays (a multi-line error);
    any other (one in a file name could forge an ``error:`` line) is escaped."""
    lines = str(text).split("\n")
    out = printable(lines[0])
    for line in lines[1:]:
        out += ("\n" if line.startswith("  ") else "\\n") + printable(line)
    return out


def markup_safe(text: object) -> str:
    """For rich: :func:`printable`, then rich markup escaped (shown as typed)."""
    from rich.markup import escape

    return escape(printable(text))


def md_cell(text: object) -> str:
    """For a Markdown table cell or list item: printable, HTML and ``|`` escaped."""
    out = printable(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return out.replace("|", "\\|")


def stays_inside(name: str) -> bool:
    """True if ``name`` (a COCO ``file_name``, a checkpoint sidecar's path) is a relative path
    that cannot leave the folder it is joined to. Checked on the text, so symlinked images work
    while ``../../secret.jpg`` or ``/etc/passwd`` is refused."""
    if not name or "\x00" in name:
        return False
    for flavour in (PurePosixPath, PureWindowsPath):
        path = flavour(name)
        if path.is_absolute() or path.anchor or ".." in path.parts:
            return False
    return True
