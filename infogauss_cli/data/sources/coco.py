"""COCO-format captions: ``coco:ANNOTATIONS.json[:IMAGES_DIR]`` and ``coco-val2017``.

The annotation file is read with pycocotools (its chatter on stdout is silenced). Any COCO
captions file works: val2017, train2017, a Karpathy-style subset, a user's own.

- image tower: one item per entry of ``images`` (sorted by image id), id ``coco:<image_id>``,
  file ``IMAGES_DIR/<file_name>``; grayscale and CMYK JPEGs are converted to RGB when decoded.
  A file listed but missing is an error naming how many are missing (a corrupt one is skipped
  by the extractor and named).
- text tower: ``captions="first"`` gives one caption per image (the one with the lowest
  annotation id), ``"all"`` every caption; id ``caption:<annotation_id>``, ``pair`` = the
  image's item id. Empty captions are left out and counted (an error with ``strict``).

``IMAGES_DIR`` defaults to a guess from the annotation file's place, trying in order: for
``captions_<split>.json``, ``../<split>`` and ``./<split>`` (the official layout
``annotations/captions_val2017.json`` + ``val2017/``), then ``./images``, ``../images``, the
annotation file's own folder and its parent; the first folder holding the listed files wins.

``coco-val2017`` is this source on ``<data_dir>/coco`` as written by ``infogauss data fetch
coco-val2017`` (``$INFOGAUSS_DATA`` or the user cache dir); when it is not there, the error says
the one command to run, or it is fetched first when ``download`` is set.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.core.safe_paths import stays_inside
from infogauss_cli.data.sources.base import (
    Item,
    check_captions_mode,
    check_tower,
    fingerprint_items,
    shown,
)

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

    from infogauss_cli.data.sources.registry import SourceOptions

COCO_VAL2017_NAME = "coco-val2017"
COCO_VAL2017_CAPTIONS = "annotations/captions_val2017.json"
COCO_VAL2017_IMAGES = "val2017"
_PROBE = 20  # listed files checked when guessing IMAGES_DIR


def load_coco(path: Path, name: str) -> Any:
    """``pycocotools.coco.COCO(path)`` with stdout silenced; BadInputError for files that are
    not COCO annotations."""
    from pycocotools.coco import COCO

    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return COCO(str(path))
    except json.JSONDecodeError as exc:
        raise BadInputError(
            f"{name}: {path.name} is not valid JSON ({exc.msg}, line {exc.lineno})"
        ) from None
    except UnicodeDecodeError:
        raise BadInputError(f"{name}: {path.name} is not UTF-8 JSON") from None
    except AssertionError:
        raise BadInputError(
            f"{name}: {path.name} is not a COCO annotation file (expected a JSON object with "
            "'images' and 'annotations')"
        ) from None
    except (KeyError, TypeError, AttributeError) as exc:
        raise BadInputError(
            f"{name}: {path.name} is malformed COCO ({type(exc).__name__}: {exc})"
        ) from None


def _sort_key(value: Any) -> tuple[int, Any]:
    return (0, value) if isinstance(value, int) else (1, str(value))


class CocoSource:
    """Images and captions of a COCO-format captions file (see the module docstring)."""

    towers: tuple[str, ...] = ("image", "text")

    def __init__(
        self,
        annotations: str | os.PathLike[str],
        images_dir: str | os.PathLike[str] | None = None,
        *,
        captions: str = "first",
        strict: bool = False,
        name: str | None = None,
        missing_hint: str = "",
    ) -> None:
        self.annotations = Path(annotations).expanduser()
        self.name = name or (f"coco:{annotations}" + (f":{images_dir}" if images_dir else ""))
        self.captions = check_captions_mode(captions)
        self.strict = strict
        self.missing_hint = missing_hint
        if not self.annotations.exists():
            raise BadInputError(f"{self.name}: no such file {self.annotations}")
        if not self.annotations.is_file():
            raise BadInputError(
                f"{self.name}: {self.annotations} is not a file (want ANNOTATIONS.json)"
            )
        self._images_arg = Path(images_dir).expanduser() if images_dir else None
        if self._images_arg is not None and not self._images_arg.is_dir():
            raise BadInputError(f"{self.name}: images folder {self._images_arg} does not exist")
        self.coco = load_coco(self.annotations, self.name)
        listed = self.coco.dataset.get("images")
        if not isinstance(listed, list) or not listed:
            raise BadInputError(f"{self.name}: {self.annotations.name} lists no images")
        bad = next((im for im in listed if not isinstance(im, dict) or "file_name" not in im), None)
        if bad is not None:
            raise BadInputError(f"{self.name}: an image entry has no file_name ({str(bad)[:80]})")
        _refuse_escaping_names(self.name, listed)
        if len(self.coco.imgs) != len(listed):
            raise BadInputError(f"{self.name}: image ids are not unique in {self.annotations.name}")
        self.image_ids = sorted(self.coco.imgs, key=_sort_key)
        self._images_dir: Path | None = None
        self._items: dict[str, list[Item]] = {}
        self._ignored: dict[str, dict[str, int]] = {}

    # -- images
    @property
    def images_dir(self) -> Path:
        """The images folder: the one given, or the guess described in the module docstring."""
        if self._images_dir is None:
            self._images_dir = self._images_arg or self._guess_images_dir()
        return self._images_dir

    def _guess_images_dir(self) -> Path:
        ann = self.annotations.absolute()
        here, up = ann.parent, ann.parent.parent
        candidates = []
        m = re.match(r"^(?:captions|instances|person_keypoints)_(.+)\.json$", ann.name, re.I)
        if m:
            candidates += [up / m[1], here / m[1]]
        candidates += [here / "images", up / "images", here, up]
        seen, unique = set(), []
        for c in candidates:
            if c not in seen:
                seen.add(c)
                unique.append(c)
        probe = [self.coco.imgs[i]["file_name"] for i in self.image_ids[:_PROBE]]
        best, best_hits = None, 0
        for c in unique:
            if c.is_dir():
                hits = sum((c / f).is_file() for f in probe)
                if hits > best_hits:
                    best, best_hits = c, hits
        if best is None:
            looked = ", ".join(str(c) for c in unique)
            raise BadInputError(
                f"{self.name}: cannot find the images listed in {ann.name} (looked in {looked}); "
                f"name the folder: --data coco:{self.annotations}:IMAGES_DIR"
            )
        return best

    def _image_items(self) -> list[Item]:
        root = self.images_dir
        items, missing = [], []
        for i in self.image_ids:
            file_name = str(self.coco.imgs[i]["file_name"])
            path = root / file_name
            if not path.is_file():
                missing.append(file_name)
            items.append(Item(id=f"coco:{i}", path=str(path)))
        if missing:
            raise BadInputError(
                f"{self.name}: {len(missing)} of {len(items)} image files listed in "
                f"{self.annotations.name} are missing from {root} (first: {shown(missing, 3)})"
                + (f"; {self.missing_hint}" if self.missing_hint else "")
            )
        return items

    # -- captions
    def _caption_items(self) -> list[Item]:
        anns = [a for a in self.coco.anns.values() if isinstance(a, dict) and "caption" in a]
        if not anns:
            raise BadInputError(
                f"{self.name}: {self.annotations.name} has no captions (a captions_*.json file "
                "is needed for the text tower; instances_*.json files have none)"
            )
        by_image: dict[Any, list[dict[str, Any]]] = defaultdict(list)
        for a in anns:
            by_image[a.get("image_id")].append(a)
        unlisted = sum(len(v) for k, v in by_image.items() if k not in self.coco.imgs)
        items, empty, empty_ids = [], 0, []
        for i in self.image_ids:
            for a in sorted(by_image.get(i, ()), key=lambda a: _sort_key(a.get("id"))):
                text = a["caption"].strip() if isinstance(a["caption"], str) else ""
                if not text:
                    empty += 1
                    empty_ids.append(str(a.get("id")))
                    continue
                items.append(Item(id=f"caption:{a.get('id')}", text=text, pair=f"coco:{i}"))
                if self.captions == "first":
                    break
        if empty and self.strict:
            raise BadInputError(
                f"{self.name}: {empty} empty caption(s) (annotation ids {shown(empty_ids)}) "
                "(--strict)"
            )
        if not items:
            raise BadInputError(f"{self.name}: no non-empty captions")
        if len({it.id for it in items}) != len(items):
            raise BadInputError(f"{self.name}: annotation ids are not unique")
        self._ignored["text"] = {"empty caption": empty, "orphan caption": unlisted}
        return items

    # -- the Source protocol
    def items(self, tower: str) -> list[Item]:
        check_tower(self.name, self.towers, tower)
        if tower not in self._items:
            self._items[tower] = self._image_items() if tower == "image" else self._caption_items()
        return list(self._items[tower])

    def ignored(self, tower: str) -> dict[str, int]:
        self.items(tower)
        return dict(self._ignored.get(tower, {}))

    def fingerprint(self, tower: str) -> str:
        """sha256 over ids, captions and pairs (text) or ids and file stats (images)."""
        tag = f"coco\n{tower}\n{self.captions if tower == 'text' else ''}"
        return fingerprint_items(tag, self.items(tower))

    def __repr__(self) -> str:
        return f"CocoSource({str(self.annotations)!r}, {str(self._images_arg or '')!r})"


def coco_val2017(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    captions: str = "first",
    strict: bool = False,
    download: bool = False,
    console: Console | None = None,
) -> CocoSource:
    """MS-COCO val2017 from ``<data_dir>/coco`` (fetched first when missing and ``download``)."""
    from infogauss_cli.data.fetch import (
        COCO_VAL2017,
        dataset_root,
        fetch,
        is_complete,
        resolve_data_dir,
    )

    data = resolve_data_dir(data_dir)
    root = dataset_root(COCO_VAL2017, data)
    if not is_complete(COCO_VAL2017, data):
        if download:
            fetch(COCO_VAL2017, data, console=console, progress=console is not None)
        else:
            state = "is incomplete in" if root.exists() else "is not in"
            raise BadInputError(
                f"MS-COCO val2017 {state} {root}: run `infogauss data fetch coco-val2017` "
                "(about 1.1 GB download) or add --download; if you have it elsewhere, set "
                "$INFOGAUSS_DATA or use --data coco:ANNOTATIONS.json:IMAGES_DIR"
            )
    return CocoSource(
        root / COCO_VAL2017_CAPTIONS,
        root / COCO_VAL2017_IMAGES,
        captions=captions,
        strict=strict,
        name=COCO_VAL2017_NAME,
        missing_hint="run `infogauss data fetch coco-val2017 --force` to restore them",
    )


def split_coco_spec(rest: str) -> tuple[str, str | None]:
    """``ANN.json[:IMAGES_DIR]`` -> (annotations, images dir or None). The annotation path ends
    at a ``.json`` followed by ``:`` or the end; an existing file wins when there are several."""
    ends = [m.end() for m in re.finditer(r"\.json(?=:|$)", rest, re.IGNORECASE)]
    if not ends:
        raise BadInputError(
            f"--data coco:{rest}: name a .json annotation file (coco:ANNOTATIONS.json[:IMAGES_DIR])"
        )
    end = next((e for e in ends if Path(rest[:e]).expanduser().is_file()), ends[0])
    images = rest[end + 1 :].strip() or None
    return rest[:end], images


def _refuse_escaping_names(name: str, listed: list[dict[str, Any]]) -> None:
    """A ``file_name`` that leaves the images folder (``../x.jpg``, ``/etc/x``) is refused:
    an annotations file must not make infogauss read and embed files elsewhere."""
    bad = [str(im["file_name"]) for im in listed if not stays_inside(str(im["file_name"]))]
    if bad:
        raise BadInputError(
            f"{name}: {len(bad)} file_name(s) leave the images folder (first: "
            f"{shown(bad, 3)}); file names must be relative paths inside it, without '..'"
        )


def from_spec(rest: str, options: SourceOptions) -> CocoSource:
    """``coco:ANNOTATIONS.json[:IMAGES_DIR]``."""
    annotations, images = split_coco_spec(rest)
    return CocoSource(
        annotations, images, captions=options.captions, strict=options.strict, name=options.spec
    )


def val2017_from_spec(rest: str, options: SourceOptions) -> CocoSource:
    """``coco-val2017``."""
    return coco_val2017(
        options.data_dir,
        captions=options.captions,
        strict=options.strict,
        download=options.download,
        console=options.console,
    )
