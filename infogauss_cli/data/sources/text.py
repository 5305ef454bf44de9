"""``text:FILE``: texts of a UTF-8 .txt (a line each, ids ``line:N``), .jsonl (``--text-field``,
default ``text``, or a bare string; ``line:N``) or .csv/.tsv file (a header row; ``row:N``)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.data.sources.base import Item, check_tower

if TYPE_CHECKING:  # pragma: no cover
    from infogauss_cli.data.sources.base import SourceOptions

_FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".tsv": "csv"}
_UNSUPPORTED = {
    ".json": "a .json file: use .jsonl (one object per line), or coco:FILE.json for COCO captions",
    ".parquet": "a .parquet file: use hf:FILE.parquet",
}
Rows = Iterator[tuple[str, str | None]]  # (item id, text; None: a blank line)


class TextFileSource:
    towers: tuple[str, ...] = ("text",)

    def __init__(self, path: str | Path, *, text_field: str | None = None, strict: bool = False):
        self.path, self.name, self.strict = Path(path).expanduser(), f"text:{path}", strict
        if not self.path.is_file():
            raise BadInputError(f"{self.name}: no such file (text:FILE: a .txt/.jsonl/.csv file)")
        suffix = self.path.suffix.lower()
        if suffix in _UNSUPPORTED:
            raise BadInputError(f"{self.name}: text:FILE cannot read {_UNSUPPORTED[suffix]}")
        self.format = _FORMATS.get(suffix, "txt")
        if text_field is not None and self.format == "txt":
            raise BadInputError(
                f"--text-field {text_field!r} applies to .jsonl and .csv files; "
                f"{self.path.name} is read as plain text, one item per line"
            )
        self.text_field = text_field
        self.empty = 0  # empty lines of a .txt file, empty texts of the others

    @cached_property
    def _raw(self) -> bytes:
        return self.path.read_bytes()

    def _jsonl(self, text: str) -> Rows:
        field = self.text_field or "text"
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                yield f"line:{n}", None
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise BadInputError(
                    f"{self.name}: line {n} is not valid JSON ({exc.msg})"
                ) from None
            if isinstance(obj, dict) and field not in obj:
                keys = ", ".join(map(str, obj)) or "none"
                raise BadInputError(
                    f"{self.name}: line {n} has no field {field!r} (fields: {keys}); "
                    "pass --text-field NAME"
                )
            if not isinstance(obj, dict) and not (isinstance(obj, str) and self.text_field is None):
                raise BadInputError(
                    f"{self.name}: line {n} is a JSON {type(obj).__name__}, not an object "
                    f"with a {field!r} field"
                )
            value = obj[field] if isinstance(obj, dict) else obj
            if value is not None and not isinstance(value, str):
                raise BadInputError(
                    f"{self.name}: line {n}: field {field!r} is a {type(value).__name__}, "
                    "not a string"
                )
            yield f"line:{n}", value or ""

    def _csv(self, text: str) -> Rows:
        delimiter = "\t" if self.path.suffix.lower() == ".tsv" else ","
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        n = 0
        try:
            header = [h.strip() for h in next(reader)]
            field = self.text_field or (
                "text" if "text" in header or len(header) > 1 else header[0]
            )
            if field not in header:
                what = f"column {field!r}" if self.text_field else f"{field!r} column"
                raise BadInputError(
                    f"{self.name}: no {what} (columns: {', '.join(header)}); "
                    "pass --text-field COLUMN"
                )
            col = header.index(field)
            for n, row in enumerate(reader, start=1):
                blank = not any(cell.strip() for cell in row)
                yield f"row:{n}", None if blank else (row[col] if col < len(row) else "")
        except StopIteration:
            raise BadInputError(f"{self.name}: empty file (no header row)") from None
        except csv.Error as exc:
            where = f" near row {n}" if n else ""
            raise BadInputError(f"{self.name}: not valid CSV{where} ({exc})") from None

    @cached_property
    def _scan(self) -> list[Item]:
        try:
            text = self._raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise BadInputError(
                f"{self.name}: not UTF-8 text (byte {exc.start}); re-encode it as UTF-8"
            ) from None
        items, self.empty = [], 0
        read = {"jsonl": self._jsonl, "csv": self._csv}.get(self.format)
        rows = (
            read(text) if read else ((f"line:{n}", x) for n, x in enumerate(text.splitlines(), 1))
        )
        for item_id, raw in rows:
            if raw is None:  # a blank line of a .jsonl or .csv file
                continue
            if value := raw.strip():
                items.append(Item(id=item_id, text=value))
            elif self.strict and self.format != "txt":
                where = item_id.replace(":", " ")
                raise BadInputError(f"{self.name}: {where} has an empty text (--strict)")
            else:
                self.empty += 1
        if not items:
            what = "lines" if self.format == "txt" else "texts"
            raise BadInputError(f"{self.name}: no non-empty {what}")
        return items

    def items(self, tower: str = "text") -> list[Item]:
        check_tower(self.name, self.towers, tower)
        return list(self._scan)

    def ignored(self, tower: str = "text") -> dict[str, int]:
        self.items(tower)  # counts what was left out
        return {"empty line" if self.format == "txt" else "empty text": self.empty}

    def fingerprint(self, tower: str = "text") -> str:
        check_tower(self.name, self.towers, tower)
        tag = "" if self.format == "txt" else f"{self.format}\n{self.text_field or ''}\n"
        return hashlib.sha256(f"infogauss.text/v1\n{tag}".encode() + self._raw).hexdigest()


def from_spec(rest: str, options: SourceOptions) -> TextFileSource:
    return TextFileSource(rest, text_field=options.text_field, strict=options.strict)
