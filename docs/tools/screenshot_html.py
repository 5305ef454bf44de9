#!/usr/bin/env python3
"""Screenshot an HTML report in headless Chromium: ``screenshot_html.py REPORT.html OUT.png``.

Needs Debian's Chromium (``apt-get install -y chromium``). The browser runs with a fresh
profile in a temporary folder and with networking features off, so the screenshot also shows
that the report renders with no network.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def screenshot(
    html: str | Path,
    out: str | Path,
    *,
    width: int = 1280,
    height: int = 1600,
    chromium: str = CHROMIUM,
    timeout: float = 120,
    small: bool = False,
) -> Path:
    """Render ``html`` in headless Chromium and write a ``width`` x ``height`` PNG to ``out``.

    ``small``: re-save with a 256-colour palette (needs Pillow), about 3x smaller, for docs
    (octree quantisation keeps the small green and red marks).
    """
    html, out = Path(html).resolve(), Path(out).resolve()
    if not html.is_file():
        raise FileNotFoundError(f"no such report: {html}")
    if not Path(chromium).exists():
        raise FileNotFoundError(f"{chromium} not found: apt-get install -y chromium")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    profile = tempfile.mkdtemp(prefix="infogauss-chromium-")
    try:
        cmd = [
            chromium,
            *FLAGS,
            f"--user-data-dir={profile}",
            f"--screenshot={out}",
            f"--window-size={width},{height}",
            html.as_uri(),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    if proc.returncode != 0 or not out.is_file():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise RuntimeError(f"chromium failed (exit {proc.returncode}): " + " | ".join(tail))
    if small:
        from PIL import Image

        with Image.open(out) as im:
            im = im.convert("RGB").quantize(colors=256, method=Image.Quantize.FASTOCTREE)
        im.save(out, optimize=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html", help="the HTML report")
    parser.add_argument("out", help="the PNG to write")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=1600)
    parser.add_argument("--chromium", default=CHROMIUM)
    parser.add_argument("--small", action="store_true", help="256-colour PNG (for docs)")
    args = parser.parse_args(argv)
    try:
        path = screenshot(
            args.html,
            args.out,
            width=args.width,
            height=args.height,
            chromium=args.chromium,
            small=args.small,
        )
    except (OSError, RuntimeError, subprocess.TimeoutExpired) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
