"""``text:FILE``: captions or sentences from a UTF-8 file, one item per line or row.

- ``.txt`` (and any other extension not below): one item per line, ids ``line:N``;
- ``.jsonl`` / ``.ndjson``: one JSON object per line, the text in field ``--text-field``
  (default ``text``; a line may also be a bare JSON string), ids ``line:N``;
- ``.csv`` / ``.tsv``: a header row, the text in column ``--text-field`` (default ``text``, or
  the only column), ids ``row:N`` (N counts data rows from 1).

N is 1-based and counts blank lines too, so ids stay stable when other lines are edited.
Leading/trailing whitespace is stripped. Blank lines are ignored; an empty text value is left
out and counted (``ignored``), or is an error with ``strict``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.data.sources.base import Item, check_tower

if TYPE_CHECKING:  # pragma: no cover
    from infogauss_cli.data.sources.registry import SourceOptions

JSONL_SUFFIXES = frozenset({".jsonl", ".ndjson"})
CSV_SUFFIXES = frozenset({".csv", ".tsv"})
_UNSUPPORTED = {
    ".json": "a .json file: use .jsonl (one object per line), or coco:FILE.json for COCO captions",
    ".parquet": "a .parquet file: use hf:FILE.parquet",
    ".arrow": "an .arrow file: use hf:DIR (a saved dataset folder)",
    ".gz": "a compressed file: decompress it first",
    ".zip": "a zip archive: extract it first",
}
DEFAULT_FIELD = "text"


class TextFileSource:
    """Texts of a .txt, .jsonl or .csv file (see the module docstring)."""

    towers: tuple[str, ...] = ("text",)

    def __init__(
        self, path: str | Path, *, text_field: str | None = None, strict: bool = False
    ) -> None:
        self.path = Path(path).expanduser()
        self.name = f"text:{path}"
        self.strict = strict
        if not self.path.exists():
            raise BadInputError(f"{self.name}: no such file")
        if not self.path.is_file():
            raise BadInputError(
                f"{self.name}: not a file (text:FILE wants a .txt/.jsonl/.csv file)"
            )
        suffix = self.path.suffix.lower()
        if suffix in _UNSUPPORTED:
            raise BadInputError(f"{self.name}: text:FILE cannot read {_UNSUPPORTED[suffix]}")
        self.format = (
            "jsonl" if suffix in JSONL_SUFFIXES else "csv" if suffix in CSV_SUFFIXES else "txt"
        )
        if text_field is not None and self.format == "txt":
            raise BadInputError(
                f"--text-field {text_field!r} applies to .jsonl and .csv files; "
                f"{self.path.name} is read as plain text, one item per line"
            )
        self.text_field = text_field
        self._raw: bytes | None = None
        self._items: list[Item] | None = None
        self.empty_lines = 0  # blank lines (formatting)
        self.empty_values = 0  # rows whose text is empty

    def _read(self) -> bytes:
        if self._raw is None:
            self._raw = self.path.read_bytes()
        return self._raw

    def _text(self) -> str:
        try:
            return self._read().decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise BadInputError(
                f"{self.name}: not UTF-8 text (byte {exc.start}); re-encode it as UTF-8"
            ) from None

    def _empty(self, where: str) -> None:
        if self.strict:
            raise BadInputError(f"{self.name}: {where} has an empty text (--strict)")
        self.empty_values += 1

    def _scan_txt(self, text: str) -> list[Item]:
        items = []
        for n, line in enumerate(text.splitlines(), start=1):
            line = line.strip()
            if line:
                items.append(Item(id=f"line:{n}", text=line))
            else:
                self.empty_lines += 1
        return items

    def _scan_jsonl(self, text: str) -> list[Item]:
        field = self.text_field or DEFAULT_FIELD
        items = []
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                self.empty_lines += 1
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise BadInputError(
                    f"{self.name}: line {n} is not valid JSON ({exc.msg})"
                ) from None
            if isinstance(obj, str) and self.text_field is None:
                value = obj
            elif isinstance(obj, dict):
                if field not in obj:
                    keys = ", ".join(map(str, obj)) or "none"
                    raise BadInputError(
                        f"{self.name}: line {n} has no field {field!r} (fields: {keys}); "
                        "pass --text-field NAME"
                    )
                value = obj[field]
            else:
                raise BadInputError(
                    f"{self.name}: line {n} is a JSON {type(obj).__name__}, not an object "
                    f"with a {field!r} field"
                )
            if value is None:
                value = ""
            if not isinstance(value, str):
                raise BadInputError(
                    f"{self.name}: line {n}: field {field!r} is a {type(value).__name__}, "
                    "not a string"
                )
            value = value.strip()
            if value:
                items.append(Item(id=f"line:{n}", text=value))
            else:
                self._empty(f"line {n}")
        return items

    def _scan_csv(self, text: str) -> list[Item]:
        delimiter = "\t" if self.path.suffix.lower() == ".tsv" else ","
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        try:
            header = next(reader)
        except StopIteration:
            raise BadInputError(f"{self.name}: empty file (no header row)") from None
        except csv.Error as exc:
            raise BadInputError(f"{self.name}: not valid CSV ({exc})") from None
        header = [h.strip() for h in header]
        if self.text_field is not None:
            field = self.text_field
        elif DEFAULT_FIELD in header:
            field = DEFAULT_FIELD
        elif len(header) == 1:
            field = header[0]
        else:
            raise BadInputError(
                f"{self.name}: no {DEFAULT_FIELD!r} column (columns: {', '.join(header)}); "
                "pass --text-field COLUMN"
            )
        if field not in header:
            raise BadInputError(
                f"{self.name}: no column {field!r} (columns: {', '.join(header)}); "
                "pass --text-field COLUMN"
            )
        col = header.index(field)
        items, n = [], 0
        try:
            for n, row in enumerate(reader, start=1):
                if not any(cell.strip() for cell in row):
                    self.empty_lines += 1
                    continue
                value = row[col].strip() if col < len(row) else ""
                if value:
                    items.append(Item(id=f"row:{n}", text=value))
                else:
                    self._empty(f"row {n}")
        except csv.Error as exc:
            raise BadInputError(f"{self.name}: not valid CSV near row {n} ({exc})") from None
        return items

    def _scan(self) -> list[Item]:
        if self._items is None:
            self.empty_lines = self.empty_values = 0
            scan = {"txt": self._scan_txt, "jsonl": self._scan_jsonl, "csv": self._scan_csv}
            items = scan[self.format](self._text())
            if not items:
                what = "non-empty lines" if self.format == "txt" else "non-empty texts"
                raise BadInputError(f"{self.name}: no {what}")
            self._items = items
        return self._items

    def _check_tower(self, tower: str) -> None:
        check_tower(self.name, self.towers, tower)

    def items(self, tower: str = "text") -> list[Item]:
        self._check_tower(tower)
        return list(self._scan())

    def ignored(self, tower: str = "text") -> dict[str, int]:
        self._scan()
        noun = "empty line" if self.format == "txt" else "empty text"
        return {noun: self.empty_lines if self.format == "txt" else self.empty_values}

    def fingerprint(self, tower: str = "text") -> str:
        """sha256 of the file's bytes and the field read (the item list follows from them)."""
        self._check_tower(tower)
        tag = f"infogauss.text/v1\n{self.format}\n{self.text_field or ''}\n".encode()
        if self.format == "txt":  # unchanged from the first version: keeps existing cache keys
            tag = b"infogauss.text/v1\n"
        return hashlib.sha256(tag + self._read()).hexdigest()

    def __repr__(self) -> str:
        return f"TextFileSource({str(self.path)!r})"


def from_spec(rest: str, options: SourceOptions) -> TextFileSource:
    """``text:FILE``."""
    return TextFileSource(rest, text_field=options.text_field, strict=options.strict)
