"""``hf:DATASET[:SPLIT][#COLUMN]``: a Hugging Face dataset through ``datasets`` (imported lazily).

DATASET is, in order: an existing local path (a folder written by ``save_to_disk``; a folder of
data files such as parquet, read by ``load_dataset(DIR)``; a ``.parquet``/``.jsonl``/``.csv``/
``.arrow`` file), a glob of such files (``data/*.parquet``), else a Hub id (``org/name``, from the
local cache when offline). SPLIT (``validation``, ``train[:1000]``) may be left out when there is
only one; local data files form the split ``train``. A ``save_to_disk`` folder is memory-mapped,
not streamed.

Columns: ``#COLUMN`` picks one (its type decides the tower); without it the image column is the
``datasets.Image`` feature and the text column the ``Value("string")`` feature (or a list of
strings: ``--captions first|all``), named by ``--text-field`` when there are several (else
one named caption/captions/text/sentence/...). Ids are ``row:I`` (the row's index in the split),
``row:I:J`` for the J-th caption of a list; a text item's ``pair`` is the row's image item.
Rows without an image or with an empty text are left out and counted (errors with ``strict``).

``streaming=True`` reads the rows without writing an Arrow copy to the datasets cache first, and
``items`` is then a stream read anew at each pass (no list of rows: the engine embeds it chunk by
chunk, holding one chunk of encoded images at a time; ``fingerprint`` reads it once more,
hashing as it goes); ``--strict`` then stops at the first row left out. Offline, a Hub id that
is not cached gives one message saying what to do.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.data.sources.base import (
    Item,
    check_captions_mode,
    check_tower,
    fingerprint_items,
    shown,
)
from infogauss_cli.data.sources.hf_load import HFLoader, quiet

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


def _kind(feature: Any) -> str | None:
    """``image``, ``text`` (a string), ``texts`` (a list of strings) or None."""
    import datasets

    def is_string(f: Any) -> bool:
        return isinstance(f, datasets.Value) and f.dtype in ("string", "large_string")

    if isinstance(feature, datasets.Image):
        return "image"
    if is_string(feature):
        return "text"
    if isinstance(feature, list) and len(feature) == 1 and is_string(feature[0]):
        return "texts"
    inner = getattr(feature, "feature", None)
    if type(feature).__name__ in ("List", "LargeList", "Sequence") and is_string(inner):
        return "texts"
    return None


def _kind_of_value(value: Any) -> str | None:
    """The same, guessed from a value (streamed datasets without features)."""
    if isinstance(value, str):
        return "text"
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return "texts"
    if isinstance(value, dict) and ("bytes" in value or "path" in value):
        return "image"
    if type(value).__module__.startswith("PIL."):
        return "image"
    return None


class HFSource:
    """Rows of a Hugging Face dataset (see the module docstring)."""

    def __init__(
        self,
        dataset: str,
        split: str | None = None,
        column: str | None = None,
        *,
        text_field: str | None = None,
        captions: str = "first",
        streaming: bool = False,
        strict: bool = False,
        name: str | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.dataset, self.split, self.column = dataset, split, column
        self.name = name or f"hf:{dataset}" + (f":{split}" if split else "") + (
            f"#{column}" if column else ""
        )
        self.text_field = text_field
        self.captions = check_captions_mode(captions)
        self.streaming, self.strict = streaming, strict
        self.cache_dir = str(cache_dir) if cache_dir else None
        self.ds = HFLoader(dataset, split, streaming, self.cache_dir, self.name).load()
        self.kinds = self._column_kinds()
        self.towers = self._towers()
        self._items: dict[str, list[Item]] = {}
        self._ignored: dict[str, dict[str, int]] = {}

    # -- columns
    def _column_kinds(self) -> dict[str, str | None]:
        features = getattr(self.ds, "features", None)
        if features is not None:
            return {k: _kind(f) for k, f in features.items()}
        try:  # a stream without declared features: look at the first row
            first = next(iter(self.ds))
        except StopIteration:
            raise BadInputError(f"{self.name}: the dataset is empty") from None
        except Exception as exc:
            raise self._error(exc) from None
        return {k: _kind_of_value(v) for k, v in first.items()}

    def _columns_of(self, tower: str) -> list[str]:
        wanted = ("image",) if tower == "image" else ("text", "texts")
        return [k for k, kind in self.kinds.items() if kind in wanted]

    def _towers(self) -> tuple[str, ...]:
        listing = ", ".join(f"{k} ({v or 'other'})" for k, v in self.kinds.items()) or "none"
        if self.column is not None:
            if self.column not in self.kinds:
                raise BadInputError(f"{self.name}: no column {self.column!r} (columns: {listing})")
            kind = self.kinds[self.column]
            if kind is None:
                raise BadInputError(
                    f"{self.name}: column {self.column!r} holds neither images nor strings"
                )
            return ("image",) if kind == "image" else ("text",)
        towers = tuple(t for t in ("image", "text") if self._columns_of(t))
        if not towers:
            raise BadInputError(f"{self.name}: no image or text column (columns: {listing})")
        return towers

    def column_for(self, tower: str) -> str:
        """The column feeding ``tower``: #COLUMN, else --text-field, else the only one (or, for
        text, one with a usual name)."""
        check_tower(self.name, self.towers, tower)
        if self.column is not None:
            return self.column
        found = self._columns_of(tower)
        if tower == "text" and self.text_field is not None:
            if self.text_field not in found:
                raise BadInputError(
                    f"{self.name}: --text-field {self.text_field!r} is not a text column "
                    f"(text columns: {', '.join(found)})"
                )
            return self.text_field
        if len(found) == 1:
            return found[0]
        if tower == "text":
            named = [n for n in TEXT_NAMES if n in found]
            if named:
                return named[0]
        hint = "#COLUMN" if tower == "image" else "#COLUMN or --text-field"
        raise BadInputError(
            f"{self.name}: several {tower} columns ({', '.join(found)}): pick one with {hint}"
        )

    # -- items
    def _rows(self, column: str, image: bool = False) -> Iterator[tuple[int, Any]]:
        import datasets

        ds = self.ds.select_columns([column])
        if image and self.kinds.get(column) == "image" and getattr(ds, "features", None):
            ds = ds.cast_column(column, datasets.Image(decode=False))
        i = 0
        try:
            with quiet():
                for batch in ds.iter(batch_size=_BATCH):
                    for value in batch[column]:
                        yield i, value
                        i += 1
        except BadInputError:
            raise
        except Exception as exc:
            raise self._error(exc) from None

    def _image_items(self, column: str, missing: list[str]) -> Iterator[Item]:
        for i, value in self._rows(column, image=True):
            item = _image_item(f"row:{i}", value)
            if item is None:
                self._left_out(missing, f"row:{i}", "without an image")
            else:
                yield item

    def _text_items(self, column: str, empty: list[str]) -> Iterator[Item]:
        pair_col = None
        images = self._columns_of("image")
        if len(images) == 1 and self.column is None:
            pair_col = images[0]
        for i, value in self._rows(column):
            pair = f"row:{i}" if pair_col else None
            if isinstance(value, list):
                for j, v in enumerate(value):
                    text = v.strip() if isinstance(v, str) else ""
                    if not text:
                        self._left_out(empty, f"row:{i}:{j}", "with an empty text")
                        continue
                    yield Item(id=f"row:{i}:{j}", text=text, pair=pair)
                    if self.captions == "first":
                        break
                if not value:
                    self._left_out(empty, f"row:{i}", "with an empty text")
            else:
                text = value.strip() if isinstance(value, str) else ""
                if text:
                    yield Item(id=f"row:{i}", text=text, pair=pair)
                else:
                    self._left_out(empty, f"row:{i}", "with an empty text")

    def _left_out(self, names: list[str], name: str, why: str) -> None:
        """Count a row left out; streamed with ``strict``, an error as soon as it is met."""
        if self.streaming and self.strict:
            raise BadInputError(f"{self.name}: {name} {why} (--strict)")
        names.append(name)

    def iter_items(self, tower: str) -> Iterator[Item]:
        """The items of ``tower``, read from the dataset as they are yielded; what was left
        out is counted when the rows end (``strict``: an error)."""
        column = self.column_for(tower)
        left: list[str] = []
        image = tower == "image"
        found = 0
        for item in self._image_items(column, left) if image else self._text_items(column, left):
            found += 1
            yield item
        kind = "missing image" if image else "empty text"
        if left and self.strict:
            what = "row(s) without an image" if image else "empty text(s)"
            raise BadInputError(f"{self.name}: {len(left)} {what}: {shown(left)} (--strict)")
        self._ignored[tower] = {kind: len(left)}
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
        tag = (
            f"hf\n{self.dataset}\n{self.split}\n{self.column_for(tower)}\n{tower}\n{self.captions}"
        )
        return fingerprint_items(tag, self.items(tower))

    def __repr__(self) -> str:
        return f"HFSource({self.dataset!r}, split={self.split!r}, column={self.column!r})"


class _Stream:
    """The items of one tower of a streamed dataset (no length: rows may be left out)."""

    def __init__(self, source: HFSource, tower: str) -> None:
        self.source, self.tower = source, tower

    def __iter__(self) -> Iterator[Item]:
        return self.source.iter_items(self.tower)


def _image_item(item_id: str, value: Any) -> Item | None:
    """A row's image value (``{"bytes", "path"}``, a PIL image, or a path) -> an Item."""
    if value is None:
        return None
    if isinstance(value, dict):
        data, path = value.get("bytes"), value.get("path")
        if data:
            return Item(id=item_id, image=bytes(data))
        if path and os.path.isfile(path):
            return Item(id=item_id, path=str(path))
        return None
    if isinstance(value, str):
        return Item(id=item_id, path=value) if os.path.isfile(value) else None
    return Item(id=item_id, image=value)


def from_spec(rest: str, options: SourceOptions) -> HFSource:
    """``hf:DATASET[:SPLIT][#COLUMN]``."""
    dataset, split, column = parse_hf_spec(rest)
    return HFSource(
        dataset,
        split,
        column,
        text_field=options.text_field,
        captions=options.captions,
        streaming=options.streaming,
        strict=options.strict,
        name=options.spec,
    )
