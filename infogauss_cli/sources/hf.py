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

``streaming=True`` reads the rows without writing an Arrow copy to the datasets cache first
(images are kept as encoded bytes in memory either way). Offline, a Hub id that is not cached
gives one message saying what to do.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import BadInputError, first_line
from .base import Item, check_captions_mode, check_tower, fingerprint_items, shown

if TYPE_CHECKING:  # pragma: no cover
    from .registry import SourceOptions

TEXT_NAMES = ("caption", "captions", "text", "sentence", "sentences", "description", "prompt")
FILE_BUILDERS = {".parquet": "parquet", ".jsonl": "json", ".json": "json", ".csv": "csv"}
_BATCH = 1000
_OFFLINE_MARKERS = (
    "OfflineModeIsEnabled",
    "Couldn't reach",
    "ConnectionError",
    "LocalEntryNotFoundError",
    "MaxRetryError",
    "NameResolutionError",
    "ConnectTimeout",
    "Temporary failure in name resolution",
)


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


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """No datasets progress bars on stderr while loading."""
    from datasets.utils import logging as dlog

    disable = getattr(dlog, "disable_progress_bars", None) or dlog.disable_progress_bar
    enable = getattr(dlog, "enable_progress_bars", None) or dlog.enable_progress_bar
    was = dlog.is_progress_bar_enabled()
    disable()
    try:
        yield
    finally:
        if was:
            enable()


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


_SLICE = re.compile(r"^([\w.-]+)\[(-?\d*):(-?\d*)\]$")


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
        with _quiet():
            self.ds = self._load()
        self.kinds = self._column_kinds()
        self.towers = self._towers()
        self._items: dict[str, list[Item]] = {}
        self._ignored: dict[str, dict[str, int]] = {}

    # -- loading
    def _load(self) -> Any:
        import datasets

        path = Path(self.dataset).expanduser()
        if path.exists():
            if path.is_dir() and (
                (path / "dataset_dict.json").exists() or (path / "state.json").exists()
            ):
                try:
                    loaded = datasets.load_from_disk(str(path))
                except Exception as exc:
                    raise self._error(exc) from None
                return self._pick_split(loaded, sliceable=True)
            if path.is_file():
                builder = FILE_BUILDERS.get(path.suffix.lower())
                if builder is None and path.suffix.lower() == ".arrow":
                    return self._pick_split(datasets.Dataset.from_file(str(path)), sliceable=True)
                if builder is None:
                    raise BadInputError(
                        f"{self.name}: cannot read a {path.suffix or 'suffix-less'} file "
                        "(use .parquet, .jsonl, .csv, .arrow or a dataset folder)"
                    )
                return self._load_files(builder, [str(path)])
            return self._call(str(path))
        pattern = os.path.expanduser(self.dataset)
        if glob.has_magic(pattern):
            files = sorted(glob.glob(pattern, recursive=True))
            if not files:
                raise BadInputError(f"{self.name}: no files match {self.dataset!r}")
            builder = FILE_BUILDERS.get(Path(files[0]).suffix.lower())
            if builder is None:
                raise BadInputError(f"{self.name}: cannot read {files[0]} (use .parquet files)")
            return self._load_files(builder, files)
        if self.dataset.startswith((".", "/", "~")) or self.dataset.lower().endswith(
            (*FILE_BUILDERS, ".arrow")
        ):
            raise BadInputError(f"{self.name}: no such file or folder {self.dataset}")
        return self._call(self.dataset, hub=True)

    def _load_files(self, builder: str, files: list[str]) -> Any:
        return self._call(builder, data_files=files, default_split="train")

    def _call(
        self, path: str, *, hub: bool = False, default_split: str | None = None, **kw: Any
    ) -> Any:
        import datasets

        split = self.split or default_split
        try:
            loaded = datasets.load_dataset(
                path, split=split, streaming=self.streaming, cache_dir=self.cache_dir, **kw
            )
        except Exception as exc:
            raise self._error(exc, hub=hub) from None
        return self._pick_split(loaded)

    def _pick_split(self, loaded: Any, sliceable: bool = False) -> Any:
        """A DatasetDict -> the split asked for (or the only one); slices ``name[a:b]`` of a
        ``save_to_disk`` folder."""
        split, rows = self.split, None
        if split and sliceable:
            m = _SLICE.match(split)
            if m:
                split = m[1]
                rows = slice(int(m[2]) if m[2] else None, int(m[3]) if m[3] else None)
        if hasattr(loaded, "keys") and not hasattr(loaded, "features"):  # a (Iterable)DatasetDict
            names = list(loaded.keys())
            if split is None:
                if len(names) != 1:
                    raise BadInputError(
                        f"{self.name} has splits {', '.join(names)}: pick one with "
                        f"hf:{self.dataset}:SPLIT"
                    )
                split = names[0]
            if split not in names:
                raise BadInputError(f"{self.name}: no split {split!r} (splits: {', '.join(names)})")
            loaded = loaded[split]
        elif split is not None and sliceable:
            own = str(getattr(loaded, "split", None) or "")
            if own and own != split:
                raise BadInputError(f"{self.name}: this folder holds the split {own!r} only")
        if rows is not None:
            loaded = loaded.select(range(len(loaded))[rows])
        return loaded

    def _error(self, exc: BaseException, hub: bool = False) -> BadInputError:
        chain, e = [], exc
        while e is not None and len(chain) < 10:
            chain.append(e)
            e = e.__cause__ or e.__context__
        text = " ".join(f"{type(x).__name__}: {x}" for x in chain)
        first = first_line(exc)
        if hub and any(marker in text for marker in _OFFLINE_MARKERS):
            offline = [v for v in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE") if _truthy(v)]
            why = f"{' and '.join(offline)} set" if offline else "no network?"
            return BadInputError(
                f"{self.name}: cannot reach the Hugging Face Hub ({why}) and the dataset is not "
                "in the local datasets cache. On a machine with network run "
                f"datasets.load_dataset({self.dataset!r}).save_to_disk(DIR), copy DIR here and "
                "use --data hf:DIR (local parquet files work too)"
                + ("" if offline else "; HF_DATASETS_OFFLINE=1 makes this fail at once")
            )
        names = {type(x).__name__ for x in chain}
        if hub and names & {"DatasetNotFoundError", "FileNotFoundError", "RepositoryNotFoundError"}:
            return BadInputError(
                f"{self.name}: no such dataset on the Hub, and no local file or folder "
                f"{self.dataset!r} ({first})"
            )
        if "Unknown split" in text or "Bad split" in text:
            return BadInputError(f"{self.name}: {first}")
        return BadInputError(
            f"{self.name}: could not load the dataset ({type(exc).__name__}: {first})"
        )

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
            with _quiet():
                for batch in ds.iter(batch_size=_BATCH):
                    for value in batch[column]:
                        yield i, value
                        i += 1
        except BadInputError:
            raise
        except Exception as exc:
            raise self._error(exc) from None

    def _image_items(self, column: str) -> list[Item]:
        items, missing = [], []
        for i, value in self._rows(column, image=True):
            item = _image_item(f"row:{i}", value)
            if item is None:
                missing.append(f"row:{i}")
            else:
                items.append(item)
        if missing and self.strict:
            raise BadInputError(
                f"{self.name}: {len(missing)} row(s) without an image: {shown(missing)} (--strict)"
            )
        self._ignored["image"] = {"missing image": len(missing)}
        return items

    def _text_items(self, column: str) -> list[Item]:
        pair_col = None
        images = self._columns_of("image")
        if len(images) == 1 and self.column is None:
            pair_col = images[0]
        items, empty = [], []
        for i, value in self._rows(column):
            pair = f"row:{i}" if pair_col else None
            if isinstance(value, list):
                for j, v in enumerate(value):
                    text = v.strip() if isinstance(v, str) else ""
                    if not text:
                        empty.append(f"row:{i}:{j}")
                        continue
                    items.append(Item(id=f"row:{i}:{j}", text=text, pair=pair))
                    if self.captions == "first":
                        break
                if not value:
                    empty.append(f"row:{i}")
            else:
                text = value.strip() if isinstance(value, str) else ""
                if text:
                    items.append(Item(id=f"row:{i}", text=text, pair=pair))
                else:
                    empty.append(f"row:{i}")
        if empty and self.strict:
            raise BadInputError(
                f"{self.name}: {len(empty)} empty text(s): {shown(empty)} (--strict)"
            )
        self._ignored["text"] = {"empty text": len(empty)}
        return items

    def items(self, tower: str) -> list[Item]:
        column = self.column_for(tower)
        if tower not in self._items:
            items = self._image_items(column) if tower == "image" else self._text_items(column)
            if not items:
                raise BadInputError(f"{self.name}: no {tower}s in column {column!r}")
            self._items[tower] = items
        return list(self._items[tower])

    def ignored(self, tower: str) -> dict[str, int]:
        self.items(tower)
        return dict(self._ignored.get(tower, {}))

    def fingerprint(self, tower: str) -> str:
        tag = (
            f"hf\n{self.dataset}\n{self.split}\n{self.column_for(tower)}\n{tower}\n{self.captions}"
        )
        return fingerprint_items(tag, self.items(tower))

    def __repr__(self) -> str:
        return f"HFSource({self.dataset!r}, split={self.split!r}, column={self.column!r})"


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


def _truthy(var: str) -> bool:
    return os.environ.get(var, "").strip().lower() in ("1", "true", "yes", "on")


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
