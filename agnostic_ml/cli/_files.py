"""Reading the commands' ``.npy`` inputs and writing their outputs (atomically).

Inputs are checked once, with messages that name the argument: a missing file, a folder
given as a file, an ``.npz`` archive, the wrong rank, non-numbers, NaN/inf rows, a
length mismatch. Outputs go through :mod:`agnostic_ml._io`: the target is checked
*before* the work that produces it (:func:`output_path`), then written to a temporary
file in the same folder and renamed (:func:`write_output`), so a failed or interrupted
write never leaves a half-written file and never destroys an earlier good one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, IO

from .._io import atomic_write_with, check_writable
from ._errors import CLIError

__all__ = ["import_cupy", "load_embeddings", "load_labels", "load_npy", "output_path", "to_device", "write_output"]


def load_npy(path: str, what: str) -> Any:
    """One NumPy array from a ``.npy`` file (no pickles)."""
    import numpy as np

    p = Path(path)
    if p.is_dir():
        raise CLIError(f"{what}: {path!r} is a directory, not a .npy file")
    if not p.is_file():
        raise CLIError(f"{what}: no such file {path!r}")
    try:
        arr = np.load(p, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise CLIError(f"{what}: cannot read {path!r} as a .npy array ({exc})") from None
    if not isinstance(arr, np.ndarray):
        raise CLIError(f"{what}: {path!r} holds several arrays (.npz); pass a single-array .npy file")
    return arr


def load_embeddings(path: str, what: str) -> Any:
    """A finite 2-D float array (integer and bool arrays become float32)."""
    import numpy as np

    arr = load_npy(path, what)
    if arr.ndim != 2:
        raise CLIError(f"{what} must be a 2-D array (n, d), got shape {arr.shape} from {path!r}")
    if not np.issubdtype(arr.dtype, np.floating):
        if np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_:
            arr = arr.astype(np.float32)
        else:
            raise CLIError(f"{what} must hold numbers, got dtype {arr.dtype} from {path!r}")
    bad = np.flatnonzero(~np.isfinite(arr).all(axis=1))
    if bad.size:
        raise CLIError(f"{what} has NaN or inf values in {bad.size} row(s) of {path!r}, first row {int(bad[0])}")
    return arr


def load_labels(path: str, what: str, n: int) -> Any:
    """A 1-D array of ``n`` labels."""
    arr = load_npy(path, what)
    if arr.ndim != 1:
        raise CLIError(f"{what} must be a 1-D array, got shape {arr.shape} from {path!r}")
    if arr.shape[0] != n:
        raise CLIError(f"{what} has {arr.shape[0]} entries but the embeddings have {n} rows")
    return arr


def import_cupy() -> Any:
    """CuPy with a usable GPU, or a CLIError that says what is missing."""
    try:
        import cupy  # noqa: PLC0415 - only for --device cuda
    except ImportError:
        raise CLIError("--device cuda needs CuPy: pip install 'agnostic-ml[cupy]' (or cpu)") from None
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDARuntimeError when no driver/GPU is present
        raise CLIError(f"--device cuda: no usable CUDA GPU ({exc})") from None
    if count < 1:
        raise CLIError("--device cuda: CuPy sees no CUDA GPU")
    return cupy


def to_device(arr: Any, device: str) -> Any:
    """``arr`` on ``--device``: unchanged for cpu, a CuPy array for cuda."""
    if device == "cuda":
        return import_cupy().asarray(arr)
    return arr


def output_path(path: str, what: str, *, suffix: str | None = None) -> Path:
    """The file an output option will write, checked *now* (before any work).

    ``suffix`` is appended when ``path`` lacks it (as ``numpy.savez`` does for ``.npz``).
    """
    p = Path(path)
    if p.is_dir() or path.endswith(("/", os.sep)):
        raise CLIError(f"{what}: {path!r} is a directory; give a file name")
    if suffix and p.suffix != suffix:
        p = Path(str(p) + suffix)
    try:
        check_writable(p, what=what)
    except OSError as exc:
        raise CLIError(str(exc)) from None
    return p


def write_output(path: Path, what: str, writer: Callable[[IO[bytes]], Any]) -> None:
    """``writer(file)`` into ``path`` atomically; a failure is a CLIError and leaves ``path`` as it was."""
    try:
        atomic_write_with(path, writer)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise CLIError(f"{what}: cannot write {str(path)!r} ({reason}); it is unchanged") from None
