"""Reports: the row model, rich tables, JSON, Markdown (and, later, HTML and plots)."""

from infogauss_cli.judge.model import SCHEMA, Report, Row

__all__ = ["SCHEMA", "Report", "Row"]
