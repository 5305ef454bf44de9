"""Where the embedding cache lives by default. Paths named inside data files (COCO
``file_name``, checkpoint sidecars) must stay in their
folder: a relative path with no ``..`` part. Checked on the text, so a folder of symlinked
images still works while ``../../secret.jpg`` or ``/etc/passwd`` is refused."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath, PureWindowsPath


def stays_inside(name: str) -> bool:
    """True if ``name`` is a relative path that cannot leave the folder it is joined to."""
    if not name or "\x00" in name:
        return False
    for flavour in (PurePosixPath, PureWindowsPath):
        path = flavour(name)
        if path.is_absolute() or path.anchor or ".." in path.parts:
            return False
    return True


def default_cache_dir() -> Path:
    """``$INFOGAUSS_CACHE`` if set, else ``<user cache dir>/infogauss/embeddings``."""
    env = os.environ.get("INFOGAUSS_CACHE")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("infogauss")) / "embeddings"
