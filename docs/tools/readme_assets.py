#!/usr/bin/env python3
"""Regenerate the README's example table and docs/img/report.png from the real CLI.

    python docs/tools/readme_assets.py            # rewrite README.md's table and the screenshot
    python docs/tools/readme_assets.py --check    # exit 1 if README.md's table is out of date
    python docs/tools/readme_assets.py --no-screenshot

It runs, in a temporary folder, exactly what the README shows:
``python docs/examples/make_embeddings.py DIR`` then
``infogauss check sphere.npy relu.npy --view both --html report.html`` at 120 columns, puts the
table between the ``<!-- check-table -->`` markers of README.md, and screenshots the HTML
(headless Chromium, docs/tools/screenshot_html.py) into docs/img/report.png.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SHOT = ROOT / "docs" / "img" / "report.png"
COMMAND = ["check", "sphere.npy", "relu.npy", "--view", "both"]
START, END = "<!-- check-table:start -->", "<!-- check-table:end -->"
WIDTH = 120


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_example(folder: Path, html: bool) -> str:
    """The table ``infogauss check`` prints for the README's example (gate lines included)."""
    _load("make_embeddings", ROOT / "docs" / "examples" / "make_embeddings.py").main(folder)
    env = {**os.environ, "COLUMNS": str(WIDTH), "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    cmd = [sys.executable, "-m", "infogauss_cli", *COMMAND]
    if html:
        cmd += ["--html", "report.html"]
    out = subprocess.run(cmd, cwd=folder, env=env, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise SystemExit(f"infogauss exited {out.returncode}: {out.stderr.strip()}")
    return "\n".join(line.rstrip() for line in out.stdout.strip().splitlines())


def block(table: str) -> str:
    return f"{START}\n```\n{table}\n```\n{END}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare with README.md")
    parser.add_argument("--no-screenshot", action="store_true")
    args = parser.parse_args(argv)
    shoot = not (args.check or args.no_screenshot)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        table = run_example(folder, html=shoot)
        text = README.read_text(encoding="utf-8")
        pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
        if not pattern.search(text):
            print(f"error: README.md has no {START} ... {END} block", file=sys.stderr)
            return 1
        new = pattern.sub(lambda _: block(table), text)
        if args.check:
            if new != text:
                print("README.md's example table is out of date: run " + __file__, file=sys.stderr)
                return 1
            return 0
        README.write_text(new, encoding="utf-8")
        if shoot:
            tool = _load("screenshot_html", ROOT / "docs" / "tools" / "screenshot_html.py")
            tool.screenshot(folder / "report.html", SHOT, width=1280, height=1600, small=True)
            print(f"wrote {SHOT}")
    print(f"updated {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
