"""Check every output before the work: files and folders must be creatable and writable.

Commands call :func:`preflight_outputs` (through ``Outputs.preflight()``) and
:func:`preflight_cache` before any model is loaded or any item is read, so a path that cannot
be written costs seconds, not a whole extraction. Each check creates and removes a probe file
(or folder) where the output will go: that is the only test that sees a read-only mount, a
permission problem and (with the free-space check) a full disk the same way the real write will.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from infogauss_cli.core.atomic import is_stdout, is_stream
from infogauss_cli.core.errors import IOFailure, io_failure
from infogauss_cli.core.safe_paths import default_cache_dir

MIN_FREE_BYTES = 1 << 20  # less than this free where an output goes: fail now, not at the end


def _nearest_existing(path: Path) -> Path:
    current = path
    while not current.exists() and current != current.parent:
        current = current.parent
    return current


def _probe_folder(folder: Path, target: Path, option: str, fix: str, user_path: bool) -> None:
    """Create and remove a probe file in the existing ``folder`` (where ``target`` will be
    written); check free space there."""
    try:
        fd, probe = tempfile.mkstemp(prefix=".infogauss-probe-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        failure = io_failure(exc, target, f"write {option}", fix=fix, user_path=user_path)
        raise _where(failure, folder, target) from None
    with contextlib.suppress(OSError):
        if shutil.disk_usage(folder).free < MIN_FREE_BYTES:
            failure = io_failure(OSError(errno.ENOSPC, "no space"), target, f"write {option}")
            raise _where(failure, folder, target)


def _where(failure: IOFailure, folder: Path, target: Path) -> IOFailure:
    """Say which folder failed when it is not the target itself."""
    if folder == target:
        return failure
    return IOFailure(
        failure.path,
        failure.operation,
        f"{failure.problem} in {folder}",
        failure.fix,
        failure.exit_code,
    )


def check_file_target(
    path: str | os.PathLike[str], option: str, *, fix: str | None = None, user_path: bool = True
) -> Path:
    """``path`` can be written as a file (it, or the folders leading to it, can be created):
    else an :class:`IOFailure` naming ``option``, the path and the fix."""
    path = Path(path).expanduser()
    fix = fix or f"pass another {option} path"
    if path.is_dir():
        raise IOFailure(
            path,
            f"write {option} to",
            "it is a folder, not a file",
            f"give a file name, e.g. {path / ('report' + _suffix(option))}",
            2,
        )
    if is_stream(path):
        return path  # a device or FIFO: written directly, nothing to create
    if path.exists() and not path.is_file():
        raise IOFailure(path, f"write {option} to", "it is not a regular file", fix, 2)
    base = _nearest_existing(path.parent)
    if not base.is_dir():
        raise IOFailure(path, f"write {option} to", f"{base} is a file, not a folder", fix, 2)
    _probe_folder(base, path, option, fix, user_path)
    return path


def check_folder_target(
    path: str | os.PathLike[str], option: str, *, fix: str | None = None, user_path: bool = True
) -> Path:
    """``path`` is (or can be created as) a writable folder."""
    path = Path(path).expanduser()
    fix = fix or f"pass another {option} folder"
    if path.exists() and not path.is_dir():
        raise IOFailure(path, f"use {option}", "it is a file, not a folder", fix, 2)
    base = _nearest_existing(path)
    if not base.is_dir():
        raise IOFailure(path, f"use {option}", f"{base} is a file, not a folder", fix, 2)
    _probe_folder(base, path, option, fix, user_path)
    return path


def _suffix(option: str) -> str:
    return {"--json": ".json", "--markdown": ".md", "--html": ".html", "--out": ".npy"}.get(
        option, ""
    )


def preflight_outputs(
    files: Iterable[tuple[str, str | os.PathLike[str] | None]] = (),
    folders: Iterable[tuple[str, str | os.PathLike[str] | None]] = (),
) -> None:
    """Check each ``(option, path)`` of ``files`` (written as files) and ``folders`` (folders
    written into); None and stdout (``-``, ``/dev/stdout``) are skipped."""
    for option, path in files:
        if path is not None and not is_stdout(path):
            check_file_target(path, option)
    for option, path in folders:
        if path is not None:
            check_folder_target(path, option)


def preflight_cache(cache_dir: str | os.PathLike[str] | None) -> None:
    """The embedding cache folder (``--cache-dir``, else the default) can be written."""
    named = cache_dir is not None or bool(os.environ.get("INFOGAUSS_CACHE"))
    folder = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    check_folder_target(
        folder,
        "--cache-dir" if cache_dir is not None else _cache_label(),
        fix="pass --cache-dir DIR on a writable disk, or --no-cache",
        user_path=named,  # a folder the user named (option or variable): exit 2
    )


def _cache_label() -> str:
    """How the default cache folder is named in messages."""
    if os.environ.get("INFOGAUSS_CACHE"):
        return "--cache-dir (INFOGAUSS_CACHE)"
    return "the embedding cache"


def rescue_path(intended: Path, cache_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """A writable place for a result whose intended path failed: the cache folder's
    ``rescued/`` first, then the system temporary folder. None when neither can be written."""
    roots = [Path(cache_dir).expanduser() if cache_dir else default_cache_dir()]
    roots.append(Path(tempfile.gettempdir()) / "infogauss")
    for root in roots:
        folder = root / "rescued" if root == roots[0] else root
        try:
            folder.mkdir(parents=True, exist_ok=True)
            _probe_folder(folder, folder, "rescue", "", False)
        except (OSError, IOFailure):
            continue
        return folder / intended.name
    return None
