"""The published JSON Schema of ``infogauss.report/v1`` (shipped in the package)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources


def schema_text() -> str:
    """The schema file exactly as shipped (JSON Schema 2020-12)."""
    return (resources.files("infogauss_cli") / "schemas" / "report.v1.json").read_text("utf-8")


@cache
def report_schema() -> dict[str, object]:
    return json.loads(schema_text())


def validate_report(doc: object) -> None:
    """Raise ``jsonschema.ValidationError`` when ``doc`` is not a valid v1 report (needs the
    ``jsonschema`` package)."""
    import jsonschema

    schema = report_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(doc)
