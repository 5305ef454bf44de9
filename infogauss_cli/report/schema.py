"""The published JSON Schema of ``infogauss.report/v1`` (shipped in the package)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

SCHEMA_FILE = "report.v1.json"


def schema_text() -> str:
    """The schema file exactly as shipped (JSON Schema 2020-12)."""
    return (resources.files("infogauss_cli") / "schemas" / SCHEMA_FILE).read_text("utf-8")


@cache
def report_schema() -> dict[str, Any]:
    return json.loads(schema_text())


def validate_report(doc: Any) -> None:
    """Raise ``jsonschema.ValidationError`` when ``doc`` is not a valid v1 report (needs the
    ``jsonschema`` package: ``pip install jsonschema``, or the ``test`` extra)."""
    import jsonschema

    schema = report_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(doc)
