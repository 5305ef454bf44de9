"""JSON reports: write (``--json FILE`` or ``-``) and read back (``--baseline``)."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from ..errors import BadInputError
from .model import SCHEMA, Report


def dumps(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2, allow_nan=False)


def write_text_atomic(path: Path, text: str) -> None:
    """Write a text file atomically (temp file in the same folder, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(report: Report, target: str) -> None:
    """``target`` is a path, or ``-`` for stdout."""
    text = dumps(report) + "\n"
    if target == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        write_text_atomic(Path(target), text)


def read_report(path: Path) -> dict[str, Any]:
    """Read and check an ``infogauss.report/v1`` file (for ``--baseline``)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInputError(f"baseline report not found: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInputError(f"cannot read baseline report {path}: {exc}") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise BadInputError(f"{path} is not an infogauss report (expected schema {SCHEMA!r})")
    rows = data.get("rows")
    if not isinstance(rows, list) or not all(
        isinstance(r, dict) and isinstance(r.get("metrics"), dict) for r in rows
    ):
        raise BadInputError(f"{path}: 'rows' must be a list of rows with 'metrics'")
    return data
