"""The HTML page from its templates: sections as data, the contents bar that lists them and
wraps (in markup, and in headless Chromium at 1,400 and 800 px), extra sections, escaping."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import numpy as np
import pytest

from infogauss_cli.judge.model import Row
from infogauss_cli.report.html import Section, render, render_html
from tests.support.cli import CHROMIUM, NO_CHROMIUM, screenshot_tool

WHEN = datetime(2026, 1, 2, 3, 4, tzinfo=timezone.utc)
LONG = "sentence-transformers/all-MiniLM-L6-v2-finetune-{}"


def toc_rows(count: int = 8) -> list[Row]:
    """Rows with long names and one cheap plot each: a contents bar far wider than 1,400 px
    when its items do not wrap."""
    rng = np.random.default_rng(0)
    return [
        Row(
            model=LONG.format(i),
            tower="text",
            protocol={"view": "l2", "n": 200, "d": 16},
            arrays={"norms": 1 + rng.random(200)},
        )
        for i in range(count)
    ]


def _nav(html: str) -> str:
    return re.search(r'<nav class="toc">(.*?)</nav>', html, re.S).group(1)


def _css(html: str, selector: str) -> list[str]:
    return re.findall(re.escape(selector) + r"[^{]*\{([^}]*)\}", html)


def test_contents_items_are_separate_elements_that_wrap():
    html = render_html(toc_rows(3), created=WHEN)
    nav = _nav(html)
    items = re.findall(r"<li[^>]*>(.*?)</li>", nav, re.S)
    assert len(items) == 3 + 3  # results, protocol, plots, and each row's plots
    assert re.search(r"</li>\s+<li", nav) and not re.search(r"</li><li", nav)  # whitespace
    rules = " ".join(_css(html, "nav.toc"))
    assert "nowrap" not in rules and "flex-wrap: wrap" in rules
    assert "overflow-wrap: anywhere" in rules  # a name longer than the bar breaks too


def test_contents_come_from_the_sections():
    extra = Section(
        "paper",
        "A <b>comparison</b>",
        render("figure.html.j2", src="x", alt="", caption="", wide=False),
    )
    html = render_html(toc_rows(2), plots=False, created=WHEN, sections=[extra])
    targets = re.findall(r'href="#([^"]+)"', _nav(html))
    assert targets == ["results", "paper", "protocol"]
    assert "A &lt;b&gt;comparison&lt;/b&gt;" in _nav(html)  # titles are text, escaped
    headings = re.findall(r'<h2 id="([^"]+)">', html)
    assert headings == targets  # the extra section after Results, in contents order


def test_user_text_escaped_control_characters_too():
    row = Row(model="evil\x1b[31m<i>\u202e", protocol={"view": "l2"}, error="bad\nline")
    html = render_html([row], plots=False, created=WHEN, title="T\x07", command=["a\x00b"])
    assert "\x1b" not in html and "\x07" not in html and "\x00" not in html
    assert "\u202e" not in html and "bad\nline" not in html
    assert "evil\\x1b[31m&lt;i&gt;" in html and "bad\\nline" in html and "a\\x00b" in html


def _toc_overflow(png: str) -> tuple[int, int, int]:
    """(viewport width, the bar's right edge, pixels drawn right of the bar in its rows)."""
    from PIL import Image

    with Image.open(png) as im:
        px = np.asarray(im.convert("RGB")).astype(int)
    width = px.shape[1]
    zebra = np.abs(px - (246, 248, 250)).max(axis=2) <= 1
    wide = np.flatnonzero(zebra.sum(axis=1) > 0.5 * width)
    rows = wide[: np.argmax(np.diff(np.r_[wide, 10**9]) > 1) + 1]  # the bar: first band
    right = int(np.flatnonzero(zebra[rows].any(axis=0)).max())
    beyond = px[rows, right + 2 :]
    return width, right, int((beyond.min(axis=2) < 230).sum())


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason=NO_CHROMIUM)
@pytest.mark.parametrize("width", [1400, 800])
def test_contents_bar_stays_in_the_viewport_in_chromium(width, tmp_path):
    page = tmp_path / "report.html"
    page.write_text(render_html(toc_rows(), created=WHEN), encoding="utf-8")
    shot = screenshot_tool().screenshot(page, tmp_path / "toc.png", width=width, height=500)
    viewport, right, ink = _toc_overflow(str(shot))
    assert viewport == width
    assert right < width - 20, right  # the bar ends inside the page's margin
    assert ink == 0, f"{ink} pixels of the contents drawn right of the bar"
