"""Loading a Hugging Face dataset for :mod:`.hf`: local folders and files, globs, Hub ids
(from the cache offline), the split, and one clear message for every failure."""

from __future__ import annotations

import contextlib
import glob
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from infogauss_cli.core.errors import BadInputError, first_line

FILE_BUILDERS = {".parquet": "parquet", ".jsonl": "json", ".json": "json", ".csv": "csv"}
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


_SLICE = re.compile(r"^([\w.-]+)\[(-?\d*):(-?\d*)\]$")


@contextlib.contextmanager
def quiet() -> Iterator[None]:
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


@contextlib.contextmanager
def forced_offline(on: bool) -> Iterator[None]:
    """With ``on``: the datasets and hub libraries in offline mode (cache only, no retries)."""
    if not on:
        yield
        return
    import datasets.config
    import huggingface_hub.constants

    saved = (datasets.config.HF_HUB_OFFLINE, huggingface_hub.constants.HF_HUB_OFFLINE)
    datasets.config.HF_HUB_OFFLINE = huggingface_hub.constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        datasets.config.HF_HUB_OFFLINE, huggingface_hub.constants.HF_HUB_OFFLINE = saved


def _truthy(var: str) -> bool:
    return os.environ.get(var, "").strip().lower() in ("1", "true", "yes", "on")


class HFLoader:
    """``load()``: the rows of ``dataset`` (a path, a glob or a Hub id) at ``split``, as a
    ``datasets`` Dataset (or an IterableDataset when ``streaming``). ``name`` is the spec."""

    def __init__(
        self,
        dataset: str,
        split: str | None,
        streaming: bool,
        cache_dir: str | None,
        name: str,
    ) -> None:
        self.dataset, self.split, self.streaming = dataset, split, streaming
        self.cache_dir, self.name = cache_dir, name

    def load(self) -> Any:
        with quiet():
            return self._load()

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
        why = None
        if hub and not self._offline_flags():
            from infogauss_cli.core.netcheck import unreachable_reason
            from infogauss_cli.models.backends.hub import endpoint

            why = unreachable_reason(endpoint())  # bounded: the library retries ~30 s
        try:
            with forced_offline(why is not None):
                loaded = datasets.load_dataset(
                    path, split=split, streaming=self.streaming, cache_dir=self.cache_dir, **kw
                )
        except Exception as exc:
            if why is not None:
                raise self._unreachable_error(why) from None
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

    @staticmethod
    def _offline_flags() -> list[str]:
        return [v for v in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE") if _truthy(v)]

    def _unreachable_error(self, why: str) -> BadInputError:
        return BadInputError(
            f"{self.name}: cannot reach the Hugging Face Hub ({why}) and the dataset is not in "
            "the local datasets cache. On a machine with network run "
            f"datasets.load_dataset({self.dataset!r}).save_to_disk(DIR), copy DIR here and use "
            "--data hf:DIR (local parquet files work too); HF_DATASETS_OFFLINE=1 makes this "
            "fail at once"
        )

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
