"""The HTML report's jinja2 templates (``templates/``) and its sections. Autoescape is on and
every printed value goes through :func:`~infogauss_cli.core.safe_text.printable` first (control
characters too); trusted fragments (a section's body) are :class:`~markupsafe.Markup`."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from markupsafe import Markup

from infogauss_cli.core.safe_text import printable

if TYPE_CHECKING:
    import jinja2


@dataclass(frozen=True)
class Section:
    """One ``<h2>`` section of the page: anchor, heading, body and the (anchor, heading) pairs
    of its ``<h3>`` parts, listed in the contents."""

    ident: str
    title: str
    body: Markup
    subsections: tuple[tuple[str, str], ...] = ()


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The templates' jinja2 environment (autoescape on, undefined names an error)."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("infogauss_cli.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        finalize=lambda v: v if hasattr(v, "__html__") else printable(v),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render(template: str, **context: object) -> Markup:
    """``template`` rendered with ``context``, as trusted HTML."""
    return Markup(environment().get_template(template).render(**context))


def cell(
    text: object, cls: str = "", *, tip: str | None = None, kind: str = ""
) -> dict[str, object]:
    """A table cell for ``table.html.j2``: its text, CSS class, tooltip and marking span."""
    return {"text": text, "cls": cls, "tip": tip, "kind": kind}


def table(
    header: Sequence[tuple[str, str]],
    lines: Sequence[dict[str, object]],
    *,
    table_cls: str = "results",
    notes: Sequence[tuple[str, str]] = (),
    notes_cls: str = "",
) -> Markup:
    """A scrolling table: ``header`` (text, class) pairs, ``lines`` of ``{"cls", "cells"}``,
    then a note box of (bold names, text) paragraphs."""
    head = [{"text": t, "cls": c} for t, c in header]
    kw = {"table_cls": table_cls, "notes": notes, "notes_cls": notes_cls}
    return render("table.html.j2", header=head, lines=lines, **kw)


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def figure(png: bytes, alt: str, caption: str, *, wide: bool = False) -> Markup:
    """A ``<figure>`` with ``png`` embedded as a ``data:`` image."""
    return render("figure.html.j2", src=data_uri(png), alt=alt, caption=caption, wide=wide)
