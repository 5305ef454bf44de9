"""A COCO-format captions folder made by the tests (reused by the source, fetch, audit and compare
tests): real JPEG encodes of varied sizes, grayscale, CMYK and truncated files, a captions JSON.

    ann, images = make_coco(tmp_path, n_images=8)           # the official layout:
    # tmp_path/annotations/captions_val2017.json, tmp_path/val2017/000000000101.jpg, ...

Image ids are ``image_ids(n)`` (not contiguous, listed in the JSON in shuffled order); the first
``grayscale`` images are mode L, the next ``cmyk`` CMYK, and the last ``truncated`` are cut to
half their bytes (decoding fails: the extractor skips them). Each image has
``captions_per_image`` captions with unique, shuffled annotation ids; the caption with the
lowest id of image k reads "photo k caption 0 ...". ``empty_captions`` blanks the lowest-id
caption of the first images. ``marker=True`` also writes the completion marker that
``coco-val2017`` looks for, so ``make_coco(data_dir / "coco", marker=True)`` is a fake fetch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import numpy as np

WORDS = [
    *("a", "dog", "cat", "bus", "tree", "red", "blue", "small", "large", "street"),
    *("table", "person", "on", "with", "near", "the"),
]


class CocoFixture(NamedTuple):
    ann_path: Path
    images_dir: Path


def image_ids(n_images: int) -> list[int]:
    return [101 + 7 * k for k in range(n_images)]


def file_name(image_id: int) -> str:
    return f"{image_id:012d}.jpg"


def _picture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * rng.uniform(1, 4), yy * rng.uniform(1, 4), xx + yy], -1)
    img = (base + rng.normal(0, 20, (h, w, 3)) + rng.uniform(0, 255, 3)) % 256
    return img.astype(np.uint8)


def make_coco(
    root: Path,
    n_images: int = 8,
    captions_per_image: int = 5,
    *,
    split: str = "val2017",
    grayscale: int = 1,
    cmyk: int = 1,
    truncated: int = 1,
    empty_captions: int = 0,
    marker: bool = False,
    seed: int = 0,
) -> CocoFixture:
    """Write the folder under ``root``; return (annotation file, images folder)."""
    from PIL import Image

    root = Path(root)
    rng = np.random.default_rng(seed)
    ann_dir, img_dir = root / "annotations", root / split
    ann_dir.mkdir(parents=True, exist_ok=True)
    img_dir.mkdir(parents=True, exist_ok=True)
    ids = image_ids(n_images)
    images = []
    for k, iid in enumerate(ids):
        h, w = int(rng.integers(24, 96)), int(rng.integers(32, 128))
        img = Image.fromarray(_picture(rng, h, w))
        if k < grayscale:
            img = img.convert("L")
        elif k < grayscale + cmyk:
            img = img.convert("CMYK")
        path = img_dir / file_name(iid)
        img.save(path, format="JPEG", quality=85)
        if k >= n_images - truncated:
            data = path.read_bytes()
            path.write_bytes(data[: len(data) // 2])
        images.append({"id": iid, "file_name": file_name(iid), "height": h, "width": w})
    n_ann = n_images * captions_per_image
    ann_ids = (1000 + rng.permutation(n_ann * 3)[:n_ann]).tolist()
    annotations = []
    for k, iid in enumerate(ids):
        mine = sorted(ann_ids[k * captions_per_image : (k + 1) * captions_per_image])
        for j, aid in enumerate(mine):
            words = " ".join(rng.choice(WORDS, size=int(rng.integers(3, 9))))
            text = f"photo {k} caption {j} {words}"
            if j == 0 and k < empty_captions:
                text = "   "
            annotations.append({"id": int(aid), "image_id": iid, "caption": text})
    order = rng.permutation(len(images))
    annotations = [annotations[i] for i in rng.permutation(len(annotations))]
    doc = {
        "info": {"description": "infogauss test fixture"},
        "licenses": [],
        "images": [images[i] for i in order],
        "annotations": annotations,
    }
    ann_path = ann_dir / f"captions_{split}.json"
    ann_path.write_text(json.dumps(doc))
    if marker:
        from infogauss_cli.data.fetch import COCO_VAL2017

        (root / COCO_VAL2017.marker_name).write_text(
            json.dumps({"dataset": COCO_VAL2017.name, "completed_at": "test"})
        )
    return CocoFixture(ann_path, img_dir)
