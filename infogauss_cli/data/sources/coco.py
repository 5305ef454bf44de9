"""COCO-format captions: ``coco:ANNOTATIONS.json[:IMAGES_DIR]`` and ``coco-val2017`` (ids,
captions first/all, the guess of IMAGES_DIR: docs/data.md)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
from collections import defaultdict
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infogauss_cli.core.errors import BadInputError, first_line, more_names
from infogauss_cli.core.options import check_choice
from infogauss_cli.core.safe_text import stays_inside
from infogauss_cli.data import fetch as downloads
from infogauss_cli.data.sources.base import Item, check_tower, fingerprint_items

if TYPE_CHECKING:  # pragma: no cover
    from pycocotools.coco import COCO

    from infogauss_cli.data.sources.base import SourceOptions

_PROBE = 20  # listed files checked when guessing IMAGES_DIR


def load_coco(path: Path, name: str) -> COCO:
    """``pycocotools.coco.COCO(path)``, quiet; BadInputError for a file that is not COCO."""
    from pycocotools.coco import COCO

    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return COCO(str(path))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        why = f"is not valid JSON ({first_line(exc)})"
    except AssertionError:
        why = "is not a COCO annotation file (a JSON object with 'images' and 'annotations')"
    except (KeyError, TypeError, AttributeError) as exc:
        why = f"is malformed COCO ({type(exc).__name__}: {exc})"
    raise BadInputError(f"{name}: {path.name} {why}")


def _sort_key(value: object) -> tuple[int, Any]:
    return (0, value) if isinstance(value, int) else (1, str(value))


class CocoSource:
    """Images and captions of a COCO-format captions file."""

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
        self.captions = check_choice(captions, ("first", "all"), "--captions")
        self.strict, self.missing_hint = strict, missing_hint
        if not self.annotations.is_file():
            raise BadInputError(f"{self.name}: no such file {self.annotations} (ANNOTATIONS.json)")
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
        escaping = [str(im["file_name"]) for im in listed if not stays_inside(str(im["file_name"]))]
        if escaping:  # an annotation file must not make infogauss read files elsewhere
            raise BadInputError(
                f"{self.name}: {len(escaping)} file_name(s) leave the images folder (first: "
                f"{more_names(escaping, 3)}); file names must be relative paths inside it, "
                "without '..'"
            )
        if len(self.coco.imgs) != len(listed):
            raise BadInputError(f"{self.name}: image ids are not unique in {self.annotations.name}")
        self.image_ids = sorted(self.coco.imgs, key=_sort_key)
        self._ignored: dict[str, dict[str, int]] = {}

    @cached_property
    def images_dir(self) -> Path:
        """The folder given, else the first of ``../<split>``, ``./<split>``, ``images``, ...
        holding the most of the first listed files."""
        if self._images_arg is not None:
            return self._images_arg
        ann = self.annotations.absolute()
        here, up = ann.parent, ann.parent.parent
        m = re.match(r"^(?:captions|instances|person_keypoints)_(.+)\.json$", ann.name, re.I)
        found = [up / m[1], here / m[1]] if m else []
        candidates = list(dict.fromkeys([*found, here / "images", up / "images", here, up]))
        probe = [self.coco.imgs[i]["file_name"] for i in self.image_ids[:_PROBE]]
        hits = {c: sum((c / f).is_file() for f in probe) for c in candidates if c.is_dir()}
        best = max(hits, key=lambda c: hits[c], default=None)
        if best is None or not hits[best]:
            looked = ", ".join(map(str, candidates))
            raise BadInputError(
                f"{self.name}: cannot find the images listed in {ann.name} (looked in {looked}); "
                f"name the folder: --data coco:{self.annotations}:IMAGES_DIR"
            )
        return best

    @cached_property
    def _image_items(self) -> list[Item]:
        root = self.images_dir
        files = [(i, str(self.coco.imgs[i]["file_name"])) for i in self.image_ids]
        missing = [f for _, f in files if not (root / f).is_file()]
        if missing:
            raise BadInputError(
                f"{self.name}: {len(missing)} of {len(files)} image files listed in "
                f"{self.annotations.name} are missing from {root} (first: "
                f"{more_names(missing, 3)})"
                + (f"; {self.missing_hint}" if self.missing_hint else "")
            )
        return [Item(id=f"coco:{i}", path=str(root / f)) for i, f in files]

    @cached_property
    def _caption_items(self) -> list[Item]:
        by_image: dict[Any, list[dict[str, Any]]] = defaultdict(list)
        for a in self.coco.anns.values():
            if isinstance(a, dict) and "caption" in a:
                by_image[a.get("image_id")].append(a)
        if not by_image:
            raise BadInputError(
                f"{self.name}: {self.annotations.name} has no captions (a captions_*.json file "
                "is needed for the text tower; instances_*.json files have none)"
            )
        unlisted = sum(len(v) for k, v in by_image.items() if k not in self.coco.imgs)
        items, empty = [], []
        for i in self.image_ids:
            for a in sorted(by_image.get(i, ()), key=lambda a: _sort_key(a.get("id"))):
                text = a["caption"].strip() if isinstance(a["caption"], str) else ""
                if not text:
                    empty.append(str(a.get("id")))
                    continue
                items.append(Item(id=f"caption:{a.get('id')}", text=text, pair=f"coco:{i}"))
                if self.captions == "first":
                    break
        if empty and self.strict:
            raise BadInputError(
                f"{self.name}: {len(empty)} empty caption(s) (annotation ids "
                f"{more_names(empty)}) (--strict)"
            )
        if not items:
            raise BadInputError(f"{self.name}: no non-empty captions")
        self._ignored["text"] = {"empty caption": len(empty), "orphan caption": unlisted}
        return items

    def items(self, tower: str) -> list[Item]:
        check_tower(self.name, self.towers, tower)
        return list(self._image_items if tower == "image" else self._caption_items)

    def ignored(self, tower: str) -> dict[str, int]:
        self.items(tower)
        return dict(self._ignored.get(tower, {}))

    def fingerprint(self, tower: str) -> str:
        tag = f"coco\n{tower}\n{self.captions if tower == 'text' else ''}"
        return fingerprint_items(tag, self.items(tower))


def split_coco_spec(rest: str) -> tuple[str, str | None]:
    """``ANN.json[:IMAGES_DIR]`` -> (annotations, images dir or None): the path ends at a
    ``.json`` followed by ``:`` or the end (an existing file wins)."""
    ends = [m.end() for m in re.finditer(r"\.json(?=:|$)", rest, re.IGNORECASE)]
    if not ends:
        raise BadInputError(
            f"--data coco:{rest}: name a .json annotation file (coco:ANNOTATIONS.json[:IMAGES_DIR])"
        )
    end = next((e for e in ends if Path(rest[:e]).expanduser().is_file()), ends[0])
    return rest[:end], rest[end + 1 :].strip() or None


def from_spec(rest: str, options: SourceOptions) -> CocoSource:
    annotations, images = split_coco_spec(rest)
    return CocoSource(
        annotations, images, captions=options.captions, strict=options.strict, name=options.spec
    )


def val2017_from_spec(rest: str, options: SourceOptions) -> CocoSource:
    """MS-COCO val2017 in ``<data_dir>/coco``, fetched first when missing and ``download``."""
    manifest, data = downloads.COCO_VAL2017, downloads.resolve_data_dir(options.data_dir)
    root = data / manifest.subdir
    if downloads.read_marker(manifest, data) is None:
        if not options.download:
            state = "is incomplete in" if root.exists() else "is not in"
            raise BadInputError(
                f"MS-COCO val2017 {state} {root}: run `infogauss data fetch coco-val2017` "
                "(about 1.1 GB download) or add --download; if you have it elsewhere, set "
                "$INFOGAUSS_DATA or use --data coco:ANNOTATIONS.json:IMAGES_DIR"
            )
        downloads.fetch(manifest, data)
    return CocoSource(
        root / "annotations/captions_val2017.json",
        root / "val2017",
        captions=options.captions,
        strict=options.strict,
        name="coco-val2017",
        missing_hint="run `infogauss data fetch coco-val2017 --force` to restore them",
    )
