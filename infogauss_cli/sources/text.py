"""``text:FILE``: a UTF-8 text file, one item per line.

Ids are ``line:N`` with N the 1-based line number in the file, so they stay stable when other
lines are edited. Empty (whitespace-only) lines are skipped and counted in ``empty_lines``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..errors import BadInputError
from .base import Item

_NOT_PLAIN_TEXT = {".json", ".jsonl", ".csv", ".tsv", ".parquet", ".arrow", ".gz", ".zip"}


class TextFileSource:
    """Lines of a text file; leading/trailing whitespace of each line is stripped."""

    towers: tuple[str, ...] = ("text",)

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        self.name = f"text:{path}"
        if not self.path.exists():
            raise BadInputError(f"{self.name}: no such file")
        if not self.path.is_file():
            raise BadInputError(f"{self.name}: not a file (text:FILE wants a .txt file)")
        if self.path.suffix.lower() in _NOT_PLAIN_TEXT:
            raise BadInputError(
                f"{self.name}: text:FILE reads plain text, one item per line "
                f"(got a {self.path.suffix} file)"
            )
        self._raw: bytes | None = None
        self._items: list[Item] | None = None
        self.empty_lines = 0

    def _read(self) -> bytes:
        if self._raw is None:
            self._raw = self.path.read_bytes()
        return self._raw

    def _scan(self) -> list[Item]:
        if self._items is None:
            try:
                text = self._read().decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                raise BadInputError(
                    f"{self.name}: not UTF-8 text (byte {exc.start}); re-encode it as UTF-8"
                ) from None
            items, empty = [], 0
            for n, line in enumerate(text.splitlines(), start=1):
                line = line.strip()
                if line:
                    items.append(Item(id=f"line:{n}", text=line))
                else:
                    empty += 1
            if not items:
                raise BadInputError(f"{self.name}: no non-empty lines")
            self._items, self.empty_lines = items, empty
        return self._items

    def _check_tower(self, tower: str) -> None:
        if tower not in self.towers:
            raise BadInputError(
                f"{self.name} feeds the text tower only, not {tower!r}; use --tower text"
            )

    def items(self, tower: str = "text") -> list[Item]:
        self._check_tower(tower)
        return list(self._scan())

    def fingerprint(self, tower: str = "text") -> str:
        """sha256 of the file's bytes (the item list follows from them)."""
        self._check_tower(tower)
        return hashlib.sha256(b"infogauss.text/v1\n" + self._read()).hexdigest()

    def __repr__(self) -> str:
        return f"TextFileSource({str(self.path)!r})"
