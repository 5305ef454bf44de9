"""Reports: the row model, rich tables, JSON, Markdown (and, later, HTML and plots)."""

from .model import SCHEMA, Report, Row

__all__ = ["SCHEMA", "Report", "Row"]
