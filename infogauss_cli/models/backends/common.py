"""Pieces every backend shares: picklable prepare/collate callables, seeded random init, weights
identities for the cache key, and the dimension check."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infogauss_cli.core.errors import BadInputError

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from infogauss_cli.models.backends.base import Encoder
    from infogauss_cli.models.schema import ZooEntry

WEIGHT_SUFFIXES = (".safetensors", ".pth", ".pt", ".bin", ".ckpt")


@dataclass(frozen=True)
class WeightsStatus:
    """Where an entry's weights come from and whether they are on this machine now.

    ``kind``: random | local | package | hub. ``location``: a path or a hub repo and file(s).
    ``available``: usable without the network. ``detail``: one line for humans.
    """

    kind: str
    location: str
    available: bool
    detail: str = ""

    @classmethod
    def offline(cls, entry: ZooEntry) -> WeightsStatus | None:
        """The status of random-init, local and packaged weights; None for hub weights."""
        from infogauss_cli.models.weights import weights_location

        loc = weights_location(entry)
        if loc.kind == "random":
            return cls("random", "-", True, f"random init, seed {entry.init_seed}")
        if loc.kind in ("local", "package"):
            return cls(loc.kind, str(loc.path), True, loc.note or "")
        return None

    @classmethod
    def hub(cls, entry: ZooEntry, where: str, cached: Any) -> WeightsStatus:
        """Hub weights at ``where``; ``cached``: the local copy, or None."""
        from infogauss_cli.models.weights import weights_location

        detail = (
            f"cached at {cached}" if cached else "not in the local cache: downloads on first use"
        )
        note = weights_location(entry).note
        return cls("hub", where, cached is not None, "; ".join(filter(None, [note, detail])))


# ---- per-item / per-batch callables (module level, so DataLoader workers can pickle them) ------
class ImagePrepare:
    """RGB PIL image -> tensor through a (picklable) transform."""

    def __init__(self, transform: Callable[[Any], Any]) -> None:
        self.transform = transform

    def __call__(self, image: Any) -> Any:
        if getattr(image, "mode", "RGB") != "RGB":
            image = image.convert("RGB")
        return self.transform(image)

    def __repr__(self) -> str:
        return f"ImagePrepare({self.transform!r})"


def prepare_text(text: Any) -> str:
    """Text items pass through as str; tokenisation happens per batch in collate."""
    return str(text)


def stack_images(items: list[Any]) -> dict[str, torch.Tensor]:
    import torch

    return {"pixel_values": torch.stack(list(items))}


# ---- building ----------------------------------------------------------------------------------
@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Deterministic random init that leaves the caller's global RNG state untouched."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def finish(module: torch.nn.Module) -> torch.nn.Module:
    """The contract's state: float32, on CPU, eval mode."""
    return module.float().cpu().eval()


def check_dim(entry: ZooEntry, tower: str, actual: int) -> None:
    """The built tower gives ``entry.dim``-d embeddings; an entry made on the fly (``dim``
    None) takes whatever the model gives (the encoder's ``dim``)."""
    if entry.dim is not None and int(actual) != entry.dim:
        raise BadInputError(
            f"{entry.ref}: the zoo entry says dim {entry.dim} but the {tower} tower of "
            f"{entry.source.name} gives {int(actual)}-d embeddings; fix `dim` in the zoo entry"
        )


def check_vocab(model: str, tokenizer_name: str, size: int | None) -> None:
    """FACTS.md: a CLIPTokenizer without its files comes back empty (vocab 2) without raising."""
    if size is None or size < 100:
        from infogauss_cli.core.errors import RunError

        raise RunError(
            f"cannot load {model}: the tokenizer {tokenizer_name} came back empty (vocab size "
            f"{size}); its files are missing: put them in the weights folder or fetch them once "
            "on a connected machine"
        )


def weights_file(path: Path, preferred: Sequence[str], model: str) -> Path:
    """A weights file: ``path`` itself, or inside a folder the first of ``preferred`` names,
    else its only weights file."""
    if path.is_file():
        return check_checkpoint(path, model)
    if not path.is_dir():
        raise BadInputError(
            f"{model}: weights {path} is not a regular file or folder; point `weights` at a "
            f"checkpoint ({CHECKPOINT_FORMATS})"
        )
    for name in preferred:
        if (path / name).is_file():
            return check_checkpoint(path / name, model)
    found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in WEIGHT_SUFFIXES)
    if len(found) == 1:
        return check_checkpoint(found[0], model)
    what = "several weights files" if found else "no weights file"
    raise BadInputError(
        f"{model}: {path} has {what} (expected one of {', '.join(preferred)} or a single "
        f"{'/'.join(WEIGHT_SUFFIXES)} file); point `weights` at the file itself"
    )


CHECKPOINT_FORMATS = "safetensors, or a PyTorch .pt/.pth/.bin file (zip or pickle)"


def check_checkpoint(file: Path, model: str) -> Path:
    """``file`` if its first bytes are those of a checkpoint format the backends read
    (safetensors, torch zip, torch pickle), else a :class:`BadInputError` naming the formats."""
    try:
        with open(file, "rb") as fh:
            head = fh.read(16)
        size = file.stat().st_size
    except OSError as exc:
        raise BadInputError(f"{model}: cannot read weights {file}: {exc.strerror}") from None
    if head.startswith(b"PK\x03\x04") or head[:1] == b"\x80":  # torch zip / pickle
        return file
    if len(head) >= 9:
        header_len = int.from_bytes(head[:8], "little")
        if head[8:9] == b"{" and 8 + header_len <= size:  # safetensors: check the sizes too
            _check_safetensors(file, header_len, size, model)
            return file
    raise BadInputError(
        f"{model}: weights {file} is not a checkpoint of a known format ({size} bytes; "
        f"accepted: {CHECKPOINT_FORMATS}); point `weights` at a real weights file"
    )


def _check_safetensors(file: Path, header_len: int, size: int, model: str) -> None:
    """The tensors the header lists end exactly at the end of the file (a truncated or
    padded file fails here, not deep inside the library)."""
    import json

    try:
        with open(file, "rb") as fh:
            fh.seek(8)
            header = json.loads(fh.read(header_len))
        end = max(
            (int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"),
            default=0,
        )
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        raise BadInputError(
            f"{model}: weights {file} has a damaged safetensors header; download it again"
        ) from None
    if 8 + header_len + end != size:
        raise BadInputError(
            f"{model}: weights {file} is truncated or damaged ({size} bytes, its header "
            f"describes {8 + header_len + end}); download it again"
        )


def path_identity(path: Path) -> str:
    """Identity of local weights for the cache key: the sha256 of the bytes (of every file, for
    a folder), not the path, so the same weights installed elsewhere (another virtual
    environment) hit the same cache entry. Hashed once per (path, size, mtime), then memoised
    (:func:`~infogauss_cli.models.digest.content_digest`)."""
    from infogauss_cli.models.digest import content_digest

    kind = "file" if Path(path).is_file() else "dir"
    return f"{kind}:sha256:{content_digest(path)}"


def library_versions(*names: str) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("torch", *names):
        try:
            out[f"{name}_version"] = version(name)
        except PackageNotFoundError:  # pragma: no cover
            out[f"{name}_version"] = "?"
    return out


def base_fingerprint(entry: ZooEntry, tower: str, weights: str, **extra: Any) -> dict[str, str]:
    fp = {
        "backend": entry.backend,
        "name": entry.source.name,
        "tower": tower,
        "weights": weights,
        "pretrained": str(entry.pretrained).lower(),
        "embedding": entry.embedding,
    }
    if not entry.pretrained:
        fp["init_seed"] = str(entry.init_seed)
    fp.update({k: str(v) for k, v in extra.items()})
    return fp


def tower_encoder(
    entry: ZooEntry,
    tower: str,
    dim: int,
    module: Any,
    steps: tuple[Callable[[Any], Any], Callable[[list[Any]], Any], Callable[..., Any]],
    fingerprint: dict[str, str],
    **extra: Any,
) -> Encoder:
    """The :class:`~.base.Encoder` of one tower of a zoo entry; ``steps``: its ``prepare``,
    ``collate`` and ``forward``; ``extra``: the other fields of the encoder."""
    from infogauss_cli.models.backends.base import Encoder

    prepare, collate, forward = steps
    return Encoder(
        model_id=entry.ref,
        tower=tower,  # type: ignore[arg-type]
        dim=dim,
        module=module,
        prepare=prepare,
        collate=collate,
        forward=forward,
        fingerprint=fingerprint,
        **extra,
    )


def image_encoder(
    entry: ZooEntry,
    dim: int,
    module: Any,
    transform: Callable[[Any], Any],
    forward: Callable[[Any, dict[str, Any]], Any],
    fingerprint: dict[str, str],
    channels_last: bool = False,
) -> Encoder:
    """The image tower's :class:`~.base.Encoder`: ``transform`` per RGB image, stacked pixels."""
    steps = (ImagePrepare(transform), stack_images, forward)
    return tower_encoder(
        entry, "image", dim, module, steps, fingerprint, channels_last=channels_last
    )


def text_encoder(
    entry: ZooEntry,
    dim: int,
    module: Any,
    collate: Callable[[list[Any]], Any],
    forward: Callable[[Any, dict[str, Any]], Any],
    fingerprint: dict[str, str],
) -> Encoder:
    """The text tower's :class:`~.base.Encoder`: strings, tokenised a batch at a time."""
    return tower_encoder(entry, "text", dim, module, (prepare_text, collate, forward), fingerprint)
