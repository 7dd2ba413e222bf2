"""The explicit edges between host data and the embeddings' namespace and device.

:func:`follow` is the one ``asarray`` of host data (labels as lists or NumPy arrays) that
the conventions allow; :func:`to_numpy` and :func:`from_host_indices` are the way out to
the host and back for the few computations that are done there (random draws, fallbacks
for namespaces without data-dependent shapes).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import array_api_compat as aac

from .._typing import Array, Namespace
from ._namespace import index_dtype, namespace_and_device, same_device


# TODO(issue 7): keyword-only (``*, xp, device``) once accuracy/, restructured in parallel, passes them by keyword.
def follow(x: Any, xp: Namespace, device: Any, *, name: str, dtype: Any = None) -> Array:
    """Convert ``x`` to ``xp`` on ``device`` if it is host data; check it otherwise.

    This is the one ``asarray`` of host data that the conventions allow. An array of
    ``xp`` is returned as-is (never re-``asarray``-ed, which on torch can drop
    ``requires_grad``, pytorch#170819); an array of another library raises ``TypeError``.
    """
    if isinstance(x, np.ndarray) and not aac.is_numpy_namespace(xp):
        return xp.asarray(x, dtype=dtype, device=device)
    if isinstance(x, (list, tuple)):
        try:
            arr = np.asarray(x)
        except ValueError as exc:
            raise TypeError(f"{name} must be a flat sequence of numbers, got a ragged {type(x).__name__}") from exc
        if arr.dtype == object:
            raise TypeError(f"{name} must contain numbers, got {type(x).__name__} of objects")
        if arr.size == 0:
            arr = arr.astype(np.int64)
        return xp.asarray(arr, dtype=dtype, device=device)
    if isinstance(x, (np.generic, int, float, bool)):
        return xp.asarray(x, dtype=dtype, device=device)
    try:
        other, _ = namespace_and_device(x)  # the namespace object the core uses (torch: its fast namespace)
    except TypeError as exc:
        raise TypeError(
            f"{name} must be an array or a sequence of numbers, got {type(x).__name__}"
        ) from exc
    if other is not xp and not (aac.is_numpy_namespace(other) and aac.is_numpy_namespace(xp)):
        raise TypeError(
            f"{name} is a {type(x).__module__}.{type(x).__name__} but the embeddings use "
            f"{getattr(xp, '__name__', xp)}; pass {name} as host data (list/NumPy) or "
            "from the embeddings' library"
        )
    if not same_device(aac.device(x), device):
        raise ValueError(f"{name} is on device {aac.device(x)} but the embeddings are on {device}")
    if dtype is not None and x.dtype != dtype:
        return xp.astype(x, dtype)
    return x


def to_numpy(x: Array) -> np.ndarray:
    """Copy an array of any supported backend to a NumPy array (an explicit API edge)."""
    if isinstance(x, np.ndarray):
        return x
    if aac.is_torch_array(x):
        return x.detach().cpu().numpy()
    if aac.is_cupy_array(x):
        return x.get()
    if aac.is_array_api_strict_namespace(aac.array_namespace(x)):
        import array_api_strict

        # strict refuses __array__ off its CPU device (by design), so move it first.
        return np.asarray(x.to_device(array_api_strict.Device("CPU_DEVICE")))
    if aac.is_dask_array(x):
        return np.asarray(x.compute())
    return np.asarray(aac.to_device(x, "cpu"))


# TODO(issue 7): keyword-only (``*, xp, device``) once accuracy/, restructured in parallel, passes them by keyword.
def from_host_indices(idx: np.ndarray, xp: Namespace, device: Any) -> Array:
    """Move host integer indices to ``xp``/``device`` with the indexing dtype."""
    return xp.asarray(np.ascontiguousarray(idx, dtype=np.int64), dtype=index_dtype(xp, device), device=device)
