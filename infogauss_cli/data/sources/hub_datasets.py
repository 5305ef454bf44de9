"""``hf:DATASET[:SPLIT][#COLUMN]``: rows of a Hugging Face dataset, local or from the Hub
(columns, ids, pairing, streaming: docs/data.md)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

from infogauss_cli.core.errors import BadInputError, more_names
from infogauss_cli.core.options import DataOptions
from infogauss_cli.data.sources.base import Item, check_tower, fingerprint_items
from infogauss_cli.data.sources.hub_datasets_load import HFLoader, quiet

if TYPE_CHECKING:  # pragma: no cover
    from infogauss_cli.data.sources.registry import SourceOptions

_BATCH = 1000
TEXT_NAMES = ("caption", "captions", "text", "sentence", "sentences", "description", "prompt")


def parse_hf_spec(rest: str) -> tuple[str, str | None, str | None]:
    """``DATASET[:SPLIT][#COLUMN]`` -> (dataset, split, column). An existing local path wins over
    a split suffix, so paths with ``:`` work."""
    body, hash_, column = rest.rpartition("#") if "#" in rest else (rest, "", "")
    column = column.strip() or None
    if hash_ and column is None:
        raise BadInputError(f"hf:{rest}: nothing after '#' (hf:DATASET[:SPLIT][#COLUMN])")
    body = body.strip()
    if os.path.exists(os.path.expanduser(body)):
        return body, None, column
    dataset, _, split = body.partition(":")
    if not dataset:
        raise BadInputError(f"hf:{rest}: missing the dataset (hf:DATASET[:SPLIT][#COLUMN])")
    return dataset, (split.strip() or None), column


def _kind(feature: object) -> str | None:
    """``image``, ``text`` (a string), ``texts`` (a list of strings) or None, of a feature."""
    import datasets

    def is_string(f: object) -> bool:
        return isinstance(f, datasets.Value) and f.dtype in ("string", "large_string")

    if isinstance(feature, list):  # [Value("string")]: a list of strings
        return "texts" if len(feature) == 1 and is_string(feature[0]) else None
    if type(feature).__name__ in ("List", "LargeList", "Sequence"):
        return "texts" if is_string(getattr(feature, "feature", None)) else None
    return (
        "image" if isinstance(feature, datasets.Image) else "text" if is_string(feature) else None
    )


def _kind_of_value(value: object) -> str | None:
    """The same, guessed from a value (streamed datasets without features)."""
    if isinstance(value, str):
        return "text"
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return "texts"
    if isinstance(value, dict) and ("bytes" in value or "path" in value):
        return "image"
    return "image" if type(value).__module__.startswith("PIL.") else None


def _image_item(item_id: str, value: object) -> Item | None:
    """A row's image value (``{"bytes", "path"}``, a PIL image, or a path) -> an Item."""
    if isinstance(value, dict):
        value = value.get("bytes") or value.get("path")
        if isinstance(value, (bytes, bytearray)):
            return Item(id=item_id, image=bytes(value))
    if isinstance(value, str):
        return Item(id=item_id, path=value) if os.path.isfile(value) else None
    return None if value is None else Item(id=item_id, image=value)


class HFSource:
    def __init__(self, dataset: str, split: str | None, column: str | None, options: DataOptions):
        self.dataset, self.split, self.column, self.name = dataset, split, column, options.data
        self.text_field, self.captions = options.text_field, options.captions
        self.streaming, self.strict = options.streaming, options.strict
        self._hub = HFLoader(dataset, split, self.streaming, self.name)  # not `loader`: Source's
        self.ds = self._hub.load()
        self.kinds = self._column_kinds()
        self.towers = self._towers()
        self._items: dict[str, list[Item]] = {}
        self._ignored: dict[str, dict[str, int]] = {}

    def _column_kinds(self) -> dict[str, str | None]:
        if self.ds.features is not None:
            return {k: _kind(f) for k, f in self.ds.features.items()}
        try:  # a stream without declared features: look at the first row
            first = next(iter(self.ds))
        except StopIteration:
            raise BadInputError(f"{self.name}: the dataset is empty") from None
        except Exception as exc:
            raise self._hub.error(exc) from None
        return {k: _kind_of_value(v) for k, v in first.items()}

    def _columns_of(self, tower: str) -> list[str]:
        wanted = ("image",) if tower == "image" else ("text", "texts")
        return [k for k, kind in self.kinds.items() if kind in wanted]

    def _towers(self) -> tuple[str, ...]:
        listing = ", ".join(f"{k} ({v or 'other'})" for k, v in self.kinds.items()) or "none"
        if self.column is None:
            towers = tuple(t for t in ("image", "text") if self._columns_of(t))
            if not towers:
                raise BadInputError(f"{self.name}: no image or text column (columns: {listing})")
            return towers
        if self.column not in self.kinds:
            raise BadInputError(f"{self.name}: no column {self.column!r} (columns: {listing})")
        kind = self.kinds[self.column]
        if kind is None:
            raise BadInputError(
                f"{self.name}: column {self.column!r} holds neither images nor strings"
            )
        return ("image",) if kind == "image" else ("text",)

    def column_for(self, tower: str) -> str:
        """#COLUMN, else --text-field, else the only one (for text: one with a usual name)."""
        check_tower(self.name, self.towers, tower)
        found = self._columns_of(tower)
        if self.column is not None:
            return self.column
        if tower == "text" and self.text_field is not None:
            if self.text_field not in found:
                raise BadInputError(
                    f"{self.name}: --text-field {self.text_field!r} is not a text column "
                    f"(text columns: {', '.join(found)})"
                )
            return self.text_field
        named = [n for n in TEXT_NAMES if n in found] if tower == "text" else []
        if len(found) == 1 or named:
            return found[0] if len(found) == 1 else named[0]
        hint = "#COLUMN" if tower == "image" else "#COLUMN or --text-field"
        raise BadInputError(
            f"{self.name}: several {tower} columns ({', '.join(found)}): pick one with {hint}"
        )

    def _rows(self, column: str) -> Iterator[tuple[int, object]]:
        import datasets

        ds = self.ds.select_columns([column])
        if self.kinds.get(column) == "image" and ds.features:
            ds = ds.cast_column(column, datasets.Image(decode=False))
        i = 0
        try:
            with quiet():
                for batch in ds.iter(batch_size=_BATCH):
                    for value in batch[column]:
                        yield i, value
                        i += 1
        except Exception as exc:
            raise self._hub.error(exc) from None

    def _left_out(self, names: list[str], name: str, why: str) -> None:
        """Count a row left out; streamed with ``strict``, an error as soon as it is met."""
        if self.streaming and self.strict:
            raise BadInputError(f"{self.name}: {name} {why} (--strict)")
        names.append(name)

    def _tower_items(self, tower: str, column: str, left: list[str]) -> Iterator[Item]:
        images = self._columns_of("image")
        paired = tower == "text" and len(images) == 1 and self.column is None
        for i, value in self._rows(column):
            if tower == "image":
                item = _image_item(f"row:{i}", value)
                if item is None:
                    self._left_out(left, f"row:{i}", "without an image")
                else:
                    yield item
                continue
            pair = f"row:{i}" if paired else None
            texts = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
            if not texts:
                self._left_out(left, f"row:{i}", "with an empty text")
            for j, v in texts:
                item_id = f"row:{i}" if j is None else f"row:{i}:{j}"
                text = v.strip() if isinstance(v, str) else ""
                if not text:
                    self._left_out(left, item_id, "with an empty text")
                    continue
                yield Item(id=item_id, text=text, pair=pair)
                if self.captions == "first":
                    break

    def iter_items(self, tower: str) -> Iterator[Item]:
        """The items of ``tower`` as read; what was left out is counted at the end (``strict``:
        an error)."""
        column = self.column_for(tower)
        left: list[str] = []
        found = 0
        for item in self._tower_items(tower, column, left):
            found += 1
            yield item
        if left and self.strict:
            what = "row(s) without an image" if tower == "image" else "empty text(s)"
            raise BadInputError(f"{self.name}: {len(left)} {what}: {more_names(left)} (--strict)")
        self._ignored[tower] = {"missing image" if tower == "image" else "empty text": len(left)}
        if not found:
            raise BadInputError(f"{self.name}: no {tower}s in column {column!r}")

    def items(self, tower: str) -> list[Item] | _Stream:
        """A list; with ``streaming``, a stream read anew at each pass (nothing kept)."""
        if self.streaming:
            self.column_for(tower)  # a tower it cannot feed: an error now
            return _Stream(self, tower)
        if tower not in self._items:
            self._items[tower] = list(self.iter_items(tower))
        return list(self._items[tower])

    def ignored(self, tower: str) -> dict[str, int]:
        if tower not in self._ignored:  # a stream not read to its end yet: count now
            for _ in self.iter_items(tower):
                pass
        return dict(self._ignored.get(tower, {}))

    def fingerprint(self, tower: str) -> str:
        column = self.column_for(tower)
        tag = f"hf\n{self.dataset}\n{self.split}\n{column}\n{tower}\n{self.captions}"
        return fingerprint_items(tag, self.items(tower))


class _Stream:
    """The items of one tower of a streamed dataset (no length: rows may be left out)."""

    def __init__(self, source: HFSource, tower: str) -> None:
        self.source, self.tower = source, tower

    def __iter__(self) -> Iterator[Item]:
        return self.source.iter_items(self.tower)


def from_spec(rest: str, options: SourceOptions) -> HFSource:
    return HFSource(*parse_hf_spec(rest), options)
