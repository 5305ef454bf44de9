"""Name what is wrong with a weights file when a library fails to load it: a pickle that holds
more than tensors (refused: never loaded with weights_only off), or a truncated file."""

from __future__ import annotations

import pickle

from infogauss_cli.core.errors import BadInputError

_PICKLE_MARKS = ("weights_only", "Unsupported global", "UnpicklingError")
_TRUNCATED_MARKS = (
    "unexpected EOF",
    "Ran out of input",
    "failed finding central directory",
    "PytorchStreamReader failed",
    "file might be corrupted",
    "checkpoint file is corrupted",
)


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it was raised from, outermost first."""
    seen: list[BaseException] = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return seen


def _is_pickle_refusal(exc: BaseException) -> bool:
    return isinstance(exc, pickle.UnpicklingError) or any(m in str(exc) for m in _PICKLE_MARKS)


def _is_truncation(exc: BaseException) -> bool:
    return isinstance(exc, EOFError) or any(m in str(exc) for m in _TRUNCATED_MARKS)


def weights_load_error(exc: BaseException, model: str, weights: object) -> BadInputError | None:
    """A clear :class:`BadInputError` (exit 2) when ``exc`` comes from an unsafe pickle or a
    truncated weights file; None for any other failure. ``weights``: the file, if known."""
    where = f"its weights {weights}" if weights else "its weights file"
    chain = _chain(exc)
    if any(_is_pickle_refusal(e) for e in chain):
        return BadInputError(
            f"cannot load {model}: {where} is not a plain weights file (it holds Python objects "
            "besides tensors, and loading those could run code, so infogauss refuses it); save "
            "the tensors alone: torch.save(model.state_dict(), PATH) or safetensors"
        )
    if any(_is_truncation(e) for e in chain):
        return BadInputError(
            f"cannot load {model}: {where} is truncated or damaged (it ends before its data "
            "do); download or copy it again"
        )
    return None
