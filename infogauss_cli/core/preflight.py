"""Output checks before any work, and where the embedding cache lives by default. A probe file
created where each output will go sees a read-only mount, a permission problem or a full disk as
the real write will; an output must not be an input or another output, links included."""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from infogauss_cli.core.atomic import is_stdout, is_stream
from infogauss_cli.core.errors import IOFailure, io_failure

MIN_FREE_BYTES = 1 << 20  # less than this free where an output goes: fail now, not at the end
Named = tuple[str, "str | os.PathLike[str] | None"]
_SUFFIX = {"--json": ".json", "--markdown": ".md", "--html": ".html", "--out": ".npy"}


def default_cache_dir(variable: str = "INFOGAUSS_CACHE", name: str = "embeddings") -> Path:
    """``$variable`` if set, else ``<user cache dir>/infogauss/<name>`` (the embedding cache)."""
    if env := os.environ.get(variable):
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("infogauss")) / name


def identity(path: str | os.PathLike[str]) -> tuple[object, ...]:
    """``(device, inode)`` of an existing file or folder, else its resolved path."""
    resolved = os.path.realpath(Path(path).expanduser())
    try:
        st = os.stat(resolved)
    except OSError:
        return ("path", resolved)
    return ("inode", st.st_dev, st.st_ino)


def _present(named: Iterable[Named]) -> Iterator[tuple[str, str]]:
    """The ``(label, path)`` pairs that name a file (None and ``/dev/null`` left out)."""
    for label, path in named:
        if path is not None and os.path.realpath(str(path)) != os.devnull:
            yield label, str(path)


def check_distinct(
    outputs: Iterable[Named], inputs: Iterable[Named] = (), folders: Iterable[Named] = ()
) -> None:
    """An :class:`IOFailure` (exit 2) for an output that is an input, another output or one of
    the output ``folders``, naming both."""
    seen: dict[tuple[object, ...], str] = {}
    for what, path in _present(inputs):
        seen.setdefault(identity(path), f"the input {what} {path}")
    for option, path in _present(folders):
        seen.setdefault(identity(path), f"the {option} folder")
    for option, path in _present(outputs):
        key = ("stdout",) if is_stdout(path) else identity(path)
        if key in seen:
            fix = (
                f"writing it would replace that input: choose another {option} path"
                if seen[key].startswith("the input")
                else "give each output its own path"
            )
            raise IOFailure(path, f"write {option}", f"it is {seen[key]}", fix, 2)
        seen[key] = f"the {option} output" + (" (stdout too)" if key == ("stdout",) else "")


def data_inputs(spec: str | None) -> list[Named]:
    """The local file or folder a ``--data`` spec reads (``text:lines.txt``), if any."""
    path = (spec or "").split(":", 1)[-1]
    return [("--data", path)] if path and Path(path).expanduser().exists() else []


def _probe(start: Path, target: Path, option: str, fix: str, user_path: bool, op: str) -> None:
    """Create and remove a probe file in the nearest existing folder at or above ``start``, and
    check the free space there, for ``target``."""
    folder = start
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise IOFailure(target, op, f"{folder} is a file, not a folder", fix, 2)
    try:
        fd, probe = tempfile.mkstemp(prefix=".infogauss-probe-", dir=folder)
        os.close(fd)
        os.unlink(probe)
        full = shutil.disk_usage(folder).free < MIN_FREE_BYTES
    except OSError as exc:
        failure = io_failure(exc, target, f"write {option}", fix=fix, user_path=user_path)
    else:
        if not full:
            return
        failure = io_failure(OSError(errno.ENOSPC, "no space"), target, f"write {option}")
    where = "" if folder == target else f" in {folder}"
    problem, code = failure.problem + where, failure.exit_code
    raise IOFailure(failure.path, failure.operation, problem, failure.fix, code)


def check_file_target(
    path: str | os.PathLike[str], option: str, *, fix: str | None = None, user_path: bool = True
) -> Path:
    """``path`` can be written as a file, else an :class:`IOFailure` naming ``option``."""
    path = Path(path).expanduser()
    fix = fix or f"pass another {option} path"
    if path.is_dir():
        example = path / ("report" + _SUFFIX.get(option, ""))
        problem = "it is a folder, not a file"
        raise IOFailure(path, f"write {option} to", problem, f"give a file name, e.g. {example}", 2)
    if is_stream(path):
        return path  # a device or FIFO: written directly, nothing to create
    if path.exists() and not path.is_file():
        raise IOFailure(path, f"write {option} to", "it is not a regular file", fix, 2)
    _probe(path.parent, path, option, fix, user_path, f"write {option} to")
    return path


def check_folder_target(
    path: str | os.PathLike[str], option: str, *, fix: str | None = None, user_path: bool = True
) -> Path:
    """``path`` is (or can be created as) a writable folder."""
    path = Path(path).expanduser()
    fix = fix or f"pass another {option} folder"
    if path.exists() and not path.is_dir():
        raise IOFailure(path, f"use {option}", "it is a file, not a folder", fix, 2)
    _probe(path, path, option, fix, user_path, f"use {option}")
    return path


def preflight_outputs(files: Iterable[Named] = (), folders: Iterable[Named] = ()) -> None:
    """Check each ``(option, path)`` of ``files`` and ``folders``; None and stdout skipped."""
    for option, path in files:
        if path is not None and not is_stdout(path):
            check_file_target(path, option)
    for option, path in folders:
        if path is not None:
            check_folder_target(path, option)


def preflight_cache(cache_dir: str | os.PathLike[str] | None) -> None:
    """The embedding cache folder (``--cache-dir``, else the default) can be written."""
    env = bool(os.environ.get("INFOGAUSS_CACHE"))
    label = "--cache-dir (INFOGAUSS_CACHE)" if env else "the embedding cache"
    check_folder_target(
        Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir(),
        "--cache-dir" if cache_dir is not None else label,
        fix="pass --cache-dir DIR on a writable disk, or --no-cache",
        user_path=cache_dir is not None or env,  # a folder the user named (option or variable)
    )


def rescue_path(intended: Path, cache_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """Where to write a result whose path failed: ``<cache>/rescued/``, else the temporary
    folder; None when neither can be written."""
    cache = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    for folder in (cache / "rescued", Path(tempfile.gettempdir()) / "infogauss"):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            _probe(folder, folder, "rescue", "", False, "rescue")
        except (OSError, IOFailure):
            continue
        return folder / intended.name
    return None
