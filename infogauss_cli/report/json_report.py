"""JSON reports: to text (``--json``), read back (``--baseline``), and the shipped JSON Schemas."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.judge.model import SCHEMA, Report


def dumps(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2, allow_nan=False)


def read_report(path: Path) -> dict[str, object]:
    """Read and check an ``infogauss.report/v1`` file (for ``--baseline``)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
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


def schema_text(kind: str = "report") -> str:
    """The schema file of ``kind`` (report, score) exactly as shipped (JSON Schema 2020-12)."""
    return (resources.files("infogauss_cli") / "schemas" / f"{kind}.v1.json").read_text("utf-8")


def validate_report(doc: object, kind: str = "report") -> None:
    """Raise ``jsonschema.ValidationError`` unless ``doc`` is a valid v1 report (or score)."""
    import jsonschema

    schema = json.loads(schema_text(kind))
    jsonschema.validate(doc, schema, cls=jsonschema.Draft202012Validator)  # the schema too
