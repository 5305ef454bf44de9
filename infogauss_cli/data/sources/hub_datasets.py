"""``hf:DATASET[:SPLIT][#COLUMN]``: rows of a Hugging Face dataset, local or from the Hub
(columns, ids, pairing, streaming: docs/data.md)."""

from __future__ import annotations

import contextlib
import glob
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from infogauss_cli.core.errors import BadInputError, first_line, more_names
from infogauss_cli.core.netcheck import unreachable_reason
from infogauss_cli.core.options import DataOptions
from infogauss_cli.data.sources.base import Item, check_tower, fingerprint_items
from infogauss_cli.models.weights import error_chain

if TYPE_CHECKING:  # pragma: no cover
    from datasets import Dataset, DatasetDict, IterableDataset, IterableDatasetDict

    from infogauss_cli.data.sources.base import SourceOptions

    Rows = Dataset | IterableDataset

_BATCH = 1000
FILE_BUILDERS = {".parquet": "parquet", ".jsonl": "json", ".json": "json", ".csv": "csv"}
_FILE_SUFFIXES = (*FILE_BUILDERS, ".arrow")
_OFFLINE_MARKERS = ("OfflineModeIsEnabled", "Couldn't reach", "ConnectionError")
_OFFLINE_MARKERS += ("LocalEntryNotFoundError", "MaxRetryError", "NameResolutionError")
_OFFLINE_MARKERS += ("ConnectTimeout", "Temporary failure in name resolution")
_SLICE = re.compile(r"^([\w.-]+)\[(-?\d*):(-?\d*)\]$")


@contextlib.contextmanager
def quiet(offline: bool = False) -> Iterator[None]:
    """No datasets progress bars; ``offline``: datasets and the hub read the cache only."""
    import datasets.config
    import huggingface_hub.constants
    from datasets import utils

    was = not utils.are_progress_bars_disabled()
    saved = (datasets.config.HF_HUB_OFFLINE, huggingface_hub.constants.HF_HUB_OFFLINE)
    utils.disable_progress_bars()
    if offline:
        datasets.config.HF_HUB_OFFLINE = huggingface_hub.constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        datasets.config.HF_HUB_OFFLINE, huggingface_hub.constants.HF_HUB_OFFLINE = saved
        if was:
            utils.enable_progress_bars()


def _offline_flags() -> list[str]:
    flags = ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE")
    return [v for v in flags if os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on")]


TEXT_NAMES = ("caption", "captions", "text", "sentence", "sentences", "description", "prompt")


def parse_hf_spec(rest: str) -> tuple[str, str | None, str | None]:
    """``DATASET[:SPLIT][#COLUMN]`` -> (dataset, split, column); an existing local path wins."""
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
    encoded = isinstance(value, dict) and ("bytes" in value or "path" in value)
    return "image" if encoded or type(value).__module__.startswith("PIL.") else None


def _image_item(item_id: str, value: object) -> Item | None:
    """A row's image value (``{"bytes", "path"}``, a PIL image, or a path) -> an Item."""
    if isinstance(value, dict):
        value = value.get("bytes") or value.get("path")
        if isinstance(value, (bytes, bytearray)):
            return Item(id=item_id, image=bytes(value))
    if isinstance(value, str):
        return Item(id=item_id, path=value) if os.path.isfile(value) else None
    return None if value is None else Item(id=item_id, image=value)


def _text_item(item_id: str, value: object, pair: str | None) -> Item | None:
    """A row's text value -> an Item, None when empty."""
    text = value.strip() if isinstance(value, str) else ""
    return Item(id=item_id, text=text, pair=pair) if text else None


class HFSource:
    def __init__(self, dataset: str, split: str | None, column: str | None, options: DataOptions):
        self.dataset, self.split, self.column, self.name = dataset, split, column, options.data
        self.text_field, self.captions = options.text_field, options.captions
        self.streaming, self.strict = options.streaming, options.strict
        self.ds = self._load()
        self.kinds = self._column_kinds()
        self.towers = self._towers()
        self._items: dict[str, list[Item]] = {}
        self._ignored: dict[str, dict[str, int]] = {}

    @quiet()
    def _load(self) -> Rows:
        import datasets

        path = Path(self.dataset).expanduser()
        if path.is_dir() and {"dataset_dict.json", "state.json"} & {p.name for p in path.iterdir()}:
            try:
                loaded = datasets.load_from_disk(str(path))
            except Exception as exc:
                raise self._error(exc) from None
            return self._pick_split(loaded, sliceable=True)
        if path.is_file() and path.suffix.lower() == ".arrow":
            return self._pick_split(datasets.Dataset.from_file(str(path)), sliceable=True)
        if path.is_dir():
            return self._call(str(path))
        files = sorted(glob.glob(str(path), recursive=True))  # a file, or what a glob matches
        if files:
            suffix = Path(files[0]).suffix.lower()
            if suffix not in FILE_BUILDERS:
                raise BadInputError(
                    f"{self.name}: cannot read a {suffix or 'suffix-less'} file ({files[0]}; "
                    "use .parquet, .jsonl, .csv, .arrow or a dataset folder)"
                )
            return self._call(FILE_BUILDERS[suffix], files)
        if glob.has_magic(str(path)):
            raise BadInputError(f"{self.name}: no files match {self.dataset!r}")
        if self.dataset.startswith((".", "/", "~")) or path.suffix.lower() in _FILE_SUFFIXES:
            raise BadInputError(f"{self.name}: no such file or folder {self.dataset}")
        return self._call(self.dataset, hub=True)

    def _call(self, path: str, files: list[str] | None = None, hub: bool = False) -> Rows:
        """``datasets.load_dataset``: data ``files`` form the split ``train``; a Hub id is
        read from the cache when the Hub cannot be reached (checked within seconds)."""
        import datasets

        why = None
        if hub and not _offline_flags():
            from infogauss_cli.models.backends.hub import endpoint

            why = unreachable_reason(endpoint())  # bounded: the library retries ~30 s
        split = self.split or ("train" if files else None)
        try:
            with quiet(offline=why is not None):
                loaded = datasets.load_dataset(
                    path, split=split, streaming=self.streaming, data_files=files
                )
        except Exception as exc:
            raise self._error(exc, hub=hub, why=why) from None
        return self._pick_split(loaded)

    def _pick_split(
        self, loaded: Rows | DatasetDict | IterableDatasetDict, sliceable: bool = False
    ) -> Rows:
        """The split asked for (or the only one); slices ``name[a:b]`` of a saved folder."""
        split, rows = self.split, None
        if split and sliceable and (m := _SLICE.match(split)):
            split, rows = m[1], slice(int(m[2]) if m[2] else None, int(m[3]) if m[3] else None)
        if hasattr(loaded, "keys") and not hasattr(loaded, "features"):  # a (Iterable)DatasetDict
            names = list(loaded.keys())
            if split is None and len(names) != 1:
                raise BadInputError(
                    f"{self.name} has splits {', '.join(names)}: pick one with "
                    f"hf:{self.dataset}:SPLIT"
                )
            split = split or names[0]
            if split not in names:
                raise BadInputError(f"{self.name}: no split {split!r} (splits: {', '.join(names)})")
            loaded = loaded[split]
        return loaded if rows is None else loaded.select(range(len(loaded))[rows])

    def _error(
        self, exc: BaseException, hub: bool = False, why: str | None = None
    ) -> BadInputError:
        """One line for a failure of ``datasets`` (``why``: the Hub was found unreachable)."""
        chain = error_chain(exc)
        text = " ".join(f"{type(x).__name__}: {x}" for x in chain)
        if why is not None or (hub and any(marker in text for marker in _OFFLINE_MARKERS)):
            flags = _offline_flags()
            why = why or (f"{' and '.join(flags)} set" if flags else "no network?")
            return BadInputError(
                f"{self.name}: cannot reach the Hugging Face Hub ({why}) and the dataset is not "
                "in the local datasets cache. On a machine with network run "
                f"datasets.load_dataset({self.dataset!r}).save_to_disk(DIR), copy DIR here and "
                "use --data hf:DIR (local parquet files work too)"
                + ("" if flags else "; HF_DATASETS_OFFLINE=1 makes this fail at once")
            )
        names = {type(x).__name__ for x in chain}
        if hub and names & {"DatasetNotFoundError", "FileNotFoundError", "RepositoryNotFoundError"}:
            return BadInputError(
                f"{self.name}: no such dataset on the Hub, and no local file or folder "
                f"{self.dataset!r} ({first_line(exc)})"
            )
        return BadInputError(
            f"{self.name}: could not load the dataset ({type(exc).__name__}: {first_line(exc)})"
        )

    def _column_kinds(self) -> dict[str, str | None]:
        if self.ds.features is not None:
            return {k: _kind(f) for k, f in self.ds.features.items()}
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
        if self.column is None:
            towers = tuple(t for t in ("image", "text") if self._columns_of(t))
            if not towers:
                raise BadInputError(f"{self.name}: no image or text column (columns: {listing})")
            return towers
        if self.column not in self.kinds:
            raise BadInputError(f"{self.name}: no column {self.column!r} (columns: {listing})")
        if (kind := self.kinds[self.column]) is None:
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
        try:
            with quiet():
                yield from enumerate(v for b in ds.iter(batch_size=_BATCH) for v in b[column])
        except Exception as exc:
            raise self._error(exc) from None

    def iter_items(self, tower: str) -> Iterator[Item]:
        """The items of ``tower`` as read; rows without an image and empty texts are left out
        and counted at the end (``strict``: an error, streamed at the first one)."""
        column = self.column_for(tower)
        paired = tower == "text" and len(self._columns_of("image")) == 1 and self.column is None
        what = "without an image" if tower == "image" else "with an empty text"
        left: list[str] = []
        found = 0
        for i, value in self._rows(column):
            row = f"row:{i}"
            pair = row if paired else None
            if tower == "image":
                read = [(row, _image_item(row, value))]
            elif isinstance(value, list):
                texts = [(f"{row}:{j}", v) for j, v in enumerate(value)]
                read = [(k, _text_item(k, v, pair)) for k, v in texts] or [(row, None)]
            else:
                read = [(row, _text_item(row, value, pair))]
            for item_id, item in read:
                if item is None:
                    if self.streaming and self.strict:
                        raise BadInputError(f"{self.name}: {item_id} {what} (--strict)")
                    left.append(item_id)
                    continue
                found += 1
                yield item
                if tower == "text" and self.captions == "first":
                    break
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
