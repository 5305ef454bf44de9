"""Loading a Hugging Face dataset for :mod:`.hub_datasets`: local folders and files, globs, Hub
ids (from the cache offline), the split, and one clear message for every failure."""

from __future__ import annotations

import contextlib
import glob
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from infogauss_cli.core.errors import BadInputError, first_line
from infogauss_cli.core.netcheck import unreachable_reason

if TYPE_CHECKING:  # pragma: no cover
    from datasets import Dataset, DatasetDict, IterableDataset, IterableDatasetDict

    Rows = Dataset | IterableDataset

FILE_BUILDERS = {".parquet": "parquet", ".jsonl": "json", ".json": "json", ".csv": "csv"}
_OFFLINE_MARKERS = ("OfflineModeIsEnabled", "Couldn't reach", "ConnectionError")
_OFFLINE_MARKERS += ("LocalEntryNotFoundError", "MaxRetryError", "NameResolutionError")
_OFFLINE_MARKERS += ("ConnectTimeout", "Temporary failure in name resolution")
_SLICE = re.compile(r"^([\w.-]+)\[(-?\d*):(-?\d*)\]$")


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """No datasets progress bars on stderr while loading."""
    from datasets import utils

    was = not utils.are_progress_bars_disabled()
    utils.disable_progress_bars()
    try:
        yield
    finally:
        if was:
            utils.enable_progress_bars()


@contextlib.contextmanager
def forced_offline() -> Iterator[None]:
    """The datasets and hub libraries in offline mode (cache only, no retries)."""
    import datasets.config
    import huggingface_hub.constants

    saved = (datasets.config.HF_HUB_OFFLINE, huggingface_hub.constants.HF_HUB_OFFLINE)
    datasets.config.HF_HUB_OFFLINE = huggingface_hub.constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        datasets.config.HF_HUB_OFFLINE, huggingface_hub.constants.HF_HUB_OFFLINE = saved


def _offline_flags() -> list[str]:
    flags = ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE")
    return [v for v in flags if os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on")]


@dataclass(frozen=True)
class HFLoader:
    """``load()``: the rows of ``dataset`` (a path, a glob or a Hub id) at ``split``, a Dataset
    (an IterableDataset when ``streaming``); ``name`` (the spec) starts every message."""

    dataset: str
    split: str | None
    streaming: bool
    name: str

    def load(self) -> Rows:
        import datasets

        with quiet():
            path = Path(self.dataset).expanduser()
            if path.is_dir() and {"dataset_dict.json", "state.json"} & {
                p.name for p in path.iterdir()
            }:
                try:
                    loaded = datasets.load_from_disk(str(path))
                except Exception as exc:
                    raise self.error(exc) from None
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
            if self.dataset.startswith((".", "/", "~")) or path.suffix.lower() in (
                *FILE_BUILDERS,
                ".arrow",
            ):
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
            with forced_offline() if why is not None else contextlib.nullcontext():
                loaded = datasets.load_dataset(
                    path, split=split, streaming=self.streaming, data_files=files
                )
        except Exception as exc:
            raise self.error(exc, hub=hub, why=why) from None
        return self._pick_split(loaded)

    def _pick_split(
        self, loaded: Rows | DatasetDict | IterableDatasetDict, sliceable: bool = False
    ) -> Rows:
        """A DatasetDict -> the split asked for (or the only one); slices ``name[a:b]`` of a
        ``save_to_disk`` folder."""
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
        elif split is not None and sliceable:
            own = str(getattr(loaded, "split", None) or "")
            if own and own != split:
                raise BadInputError(f"{self.name}: this folder holds the split {own!r} only")
        return loaded if rows is None else loaded.select(range(len(loaded))[rows])

    def error(self, exc: BaseException, hub: bool = False, why: str | None = None) -> BadInputError:
        """One line for a failure of ``datasets`` (``why``: the Hub was found unreachable)."""
        chain: list[BaseException] = []
        e: BaseException | None = exc
        while e is not None and len(chain) < 10:
            chain.append(e)
            e = e.__cause__ or e.__context__
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
        if "Unknown split" in text or "Bad split" in text:
            return BadInputError(f"{self.name}: {first_line(exc)}")
        return BadInputError(
            f"{self.name}: could not load the dataset ({type(exc).__name__}: {first_line(exc)})"
        )
