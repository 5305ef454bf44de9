"""Real material on every machine with infogauss, for offline runs: ``pydoc-topics`` (prose of
``pydoc_data.topics``) and ``skimage-samples`` (scikit-image's bundled images and LFW crops)."""

from __future__ import annotations

import re
from pathlib import Path

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.data.sources.base import Item, check_tower, fingerprint_items

_PARAGRAPH = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
MIN_CHARS, MAX_CHARS = 40, 300


class _Builtin:
    """A fixed item list for one tower; built by the registry as ``cls(rest, options)``."""

    name: str
    towers: tuple[str, ...]

    def __init__(self, rest: str = "", options: object = None) -> None:
        pass

    def fingerprint(self, tower: str) -> str:
        return fingerprint_items(self.name, self.items(tower))

    def items(self, tower: str) -> list[Item]:
        check_tower(self.name, self.towers, tower)
        return self.read()

    def read(self) -> list[Item]:
        raise NotImplementedError


class PydocTopics(_Builtin):
    """``pydoc-topics``: unique prose sentences of ``pydoc_data.topics``, topics sorted."""

    name, towers = "pydoc-topics", ("text",)

    def read(self) -> list[Item]:
        from pydoc_data.topics import topics

        ids: dict[str, str] = {}
        for topic in sorted(topics):
            paragraphs = _PARAGRAPH.split(topics[topic])
            prose = [p for p in paragraphs if not (p.startswith(" ") or p.rstrip().endswith("::"))]
            sentences = [s for p in prose for s in _SENTENCE_END.split(" ".join(p.split()))]
            good = (s for s in sentences if MIN_CHARS <= len(s) <= MAX_CHARS and s[0].isupper())
            for k, s in enumerate(s for s in good if s[-1] in ".!?"):
                ids.setdefault(s, f"{topic}#{k}")
        return [Item(id=i, text=s) for s, i in ids.items()]


class SkimageSamples(_Builtin):
    """``skimage-samples``: scikit-image's bundled images and LFW crops (the ``offline`` extra)."""

    name, towers = "skimage-samples", ("image",)

    def read(self) -> list[Item]:
        try:
            import skimage.data
        except ImportError:
            raise BadInputError(
                "skimage-samples needs scikit-image: pip install 'infogauss[offline]'"
            ) from None
        import numpy as np

        root = Path(skimage.data.__file__).parent
        files = sorted(p for p in root.iterdir() if p.suffix.lower() in (".png", ".jpg"))
        items = [Item(id=p.name, path=str(p)) for p in files]
        if (lfw := root / "lfw_subset.npy").is_file():
            crops = np.load(lfw, allow_pickle=False)  # (200, 25, 25) float in [0, 1]
            pixels = (np.clip(crops, 0.0, 1.0) * 255).round().astype(np.uint8)
            items += [Item(id=f"lfw_subset#{k}", image=a) for k, a in enumerate(pixels)]
        return items


class Textures(_Builtin):
    """``textures``: 64 seeded procedural images (noise, stripes, checkerboards, gradients), an
    offline out-of-distribution set for image models."""

    name, towers = "textures", ("image",)

    def read(self) -> list[Item]:
        import numpy as np

        rng, items, (yy, xx) = np.random.default_rng(0), [], np.mgrid[0:128, 0:128] / 128.0
        for k in range(64):
            f, angle, colour = rng.uniform(2, 16), rng.uniform(0, np.pi), rng.uniform(0, 1, 3)
            u = xx * np.cos(angle) + yy * np.sin(angle)
            g = [
                rng.uniform(0, 1, xx.shape),
                0.5 + 0.5 * np.sin(2 * np.pi * f * u),
                (np.floor(f * xx) + np.floor(f * yy)) % 2,
                (u - u.min()) / np.ptp(u),
            ][k % 4]
            kind = ("noise", "stripes", "checkers", "gradient")[k % 4]
            rgb = (g[..., None] * colour + (1 - g[..., None]) * (1 - colour)) * 255
            items.append(Item(id=f"{kind}#{k // 4}", image=rgb.round().astype(np.uint8)))
        return items


class SceneCaptions(_Builtin):
    """``scene-captions``: 400 seeded template captions of everyday scenes, an offline
    out-of-distribution set for text models (against ``pydoc-topics``)."""

    name, towers = "scene-captions", ("text",)
    WORDS = (
        "a|an|the|one/small|large|red|old|young|brown|happy|wet/dog|cat|man|woman|child|horse|bird"
        "|boat|train|bicycle/sits|runs|stands|sleeps|waits|plays|rests/on the beach|in the park|"
        "near a river|under a tree|on a busy street|in the snow"
    )

    def read(self) -> list[Item]:
        import numpy as np

        rng, seen = np.random.default_rng(0), dict[str, str]()
        while len(seen) < 400:
            words = " ".join(rng.choice(w.split("|")) for w in self.WORDS.split("/"))
            seen.setdefault(f"{words}.".capitalize(), f"scene#{len(seen)}")
        return [Item(id=i, text=t) for t, i in seen.items()]
