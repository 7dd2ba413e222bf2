"""Checkpoint files: written atomically, read with ``weights_only=True``, clear errors when damaged.

Every ``.pth`` file the adapter writes (``utils.common_functions.save_model``, the
``HookContainer``'s checkpoints, ``InferenceModel.save_knn_func``) goes through
:func:`save_state`: ``torch.save`` into a temporary file beside the target, then a rename
(:func:`agnostic_ml._io.atomic_write_with`). A crash, a full disk or an exception while
writing leaves the previous file of that name intact; no half-written file ever carries
the final name.

:func:`load_state` reads with ``torch.load(..., weights_only=True)`` (no arbitrary code
runs when a checkpoint is opened) and turns the many ways a damaged file fails inside
``torch.load`` (``RuntimeError`` from the zip reader, ``UnpicklingError``, ``EOFError``,
...) into one :class:`CheckpointError` that names the file.

Examples
--------
>>> import pathlib, tempfile, torch
>>> p = pathlib.Path(tempfile.mkdtemp()) / "w.pth"
>>> _ = save_state({"w": torch.ones(2)}, p)
>>> load_state(p)["w"].tolist()
[1.0, 1.0]
>>> _ = p.write_bytes(p.read_bytes()[:40])  # truncate it
>>> load_state(p)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
agnostic_ml_torch._checkpoint.CheckpointError: checkpoint '.../w.pth' is truncated or corrupted ...
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import torch

from agnostic_ml._io import atomic_write_with

__all__ = ["CheckpointError", "save_state", "load_state"]


class CheckpointError(RuntimeError):
    """A checkpoint file cannot be read: truncated, corrupted, or not a weights-only file."""


def save_state(obj: Any, path: str | os.PathLike, *, durable: bool = True) -> Path:
    """``torch.save(obj, path)`` atomically (write a temporary file, then rename it).

    ``obj`` should hold only tensors, numbers, strings, lists, tuples and dicts, so that it
    loads with ``weights_only=True`` (state dicts of models, optimizers and schedulers do).
    Returns the resolved path.
    """
    return atomic_write_with(path, lambda f: torch.save(obj, f), durable=durable)


def load_state(path: str | os.PathLike, map_location: Any = None) -> Any:
    """``torch.load(path, map_location, weights_only=True)`` with errors that name the file.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    CheckpointError
        The file is truncated or corrupted, or holds objects that ``weights_only=True``
        refuses (a pickled class, a lambda). The file is left as it is.
    """
    p = Path(os.fspath(path))
    if not p.is_file():
        raise FileNotFoundError(f"checkpoint {str(p)!r} does not exist")
    try:
        return torch.load(p, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        msg = str(exc)
        if "weights_only" in msg or "Unsupported global" in msg:
            raise CheckpointError(
                f"checkpoint {str(p)!r} holds objects that torch.load(weights_only=True) refuses "
                f"(only tensors, numbers, strings and containers of them are loaded): {msg.splitlines()[0]}"
            ) from exc
        raise _damaged(p, exc) from exc
    except (RuntimeError, EOFError, ValueError, OSError, KeyError, IndexError, TypeError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise _damaged(p, exc) from exc


def _damaged(p: Path, exc: BaseException) -> CheckpointError:
    first = (str(exc).splitlines() or [type(exc).__name__])[0]
    return CheckpointError(
        f"checkpoint {str(p)!r} is truncated or corrupted ({type(exc).__name__}: {first}); "
        f"it was not modified: restore it or delete it to fall back to an older checkpoint"
    )
