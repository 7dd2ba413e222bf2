"""Backend helpers the accuracy code needs that :mod:`agnostic_ml._array_api` lacks so far.

Everything here belongs in the array-API layer (and moves there when the layer is split
into topic modules); the accuracy algorithms call these names instead of talking to
array-api-compat / array-api-extra themselves. Each is a thin delegation with the same
meaning on every backend.
"""

from __future__ import annotations

from typing import Any

import array_api_compat as aac
import array_api_extra as xpx

__all__ = ["device_of", "has_float64", "host_namespace", "searchsorted", "to_device"]

Array = Any


def device_of(x: Array) -> Any:
    """The device of ``x`` (``array_api_compat.device``: also for torch, CuPy and NumPy < 2)."""
    return aac.device(x)


def to_device(x: Array, device: Any) -> Array:
    """``x`` on ``device`` in its own library (``array_api_compat.to_device``)."""
    return aac.to_device(x, device)


def has_float64(xp: Any, device: Any) -> bool:
    """Whether ``xp`` supports float64 on ``device`` (not, e.g., on MPS or strict's
    ``no_float64`` device); True for namespaces without inspection."""
    try:
        return "float64" in xp.__array_namespace_info__().dtypes(device=device, kind="real floating")
    except Exception:  # pragma: no cover - namespaces without inspection
        return True


def host_namespace() -> Any:
    """The compat-wrapped NumPy namespace (host-side bookkeeping, the Dask paths)."""
    from array_api_compat import numpy as xnp

    return xnp


def searchsorted(x1: Array, x2: Array, *, side: str, xp: Any) -> Array:
    """Row-wise ``searchsorted`` for N-D sorted ``x1`` (the standard's is 1-D only; xpx's
    handles batches and returns the default integer dtype)."""
    return xpx.searchsorted(x1, x2, side=side, xp=xp)
