"""Linear algebra beyond the core standard: the optional ``linalg`` extension, with a fallback.

``xp.linalg`` is an *optional* extension of the array API standard; array-api-strict's
strictest mode disables every extension (``enabled_extensions=()``), and a namespace may
lack it. Losses that need a matrix inverse (``ManifoldLoss``'s random-walk resolvent) call
:func:`inv`, which uses ``xp.linalg.inv`` where it exists (NumPy, CuPy, torch: native and,
on torch, differentiable) and otherwise a pure-standard Gauss-Jordan elimination.
"""

from __future__ import annotations

from typing import Any

from ._namespace import index_dtype, namespace_and_device

Array = Any

__all__ = ["inv"]


def inv(a: Array) -> Array:
    """The inverse of a square matrix ``a`` (2-D), in ``a``'s namespace, device and dtype.

    Fast path: ``xp.linalg.inv``. Fallback (no ``linalg`` extension): Gauss-Jordan
    elimination with partial pivoting written with ``where``/``take`` only (no in-place
    writes, so it is differentiable on any namespace with autograd): ``n`` steps of
    ``O(n^2)`` work. A singular matrix gives inf/NaN entries in the fallback (``linalg.inv``
    raises).

    >>> import numpy as np
    >>> inv(np.array([[2.0, 0.0], [1.0, 1.0]])).tolist()
    [[0.5, 0.0], [-0.5, 1.0]]
    """
    xp, device = namespace_and_device(a)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"inv needs a square 2-D matrix, got shape {tuple(a.shape)}")
    native = getattr(getattr(xp, "linalg", None), "inv", None)
    if native is not None:
        return native(a)
    return _gauss_jordan_inv(a, xp, device)


def _gauss_jordan_inv(a: Array, xp: Any, device: Any) -> Array:
    n = a.shape[0]
    idt = index_dtype(xp, device)
    rows = xp.arange(n, dtype=idt, device=device)
    m = xp.concat([a, xp.eye(n, dtype=a.dtype, device=device)], axis=1)
    below_low = xp.asarray(-1.0, dtype=a.dtype, device=device)
    for k in range(n):
        col = xp.abs(m[:, k])
        # Pivot: the largest |entry| of column k among rows k..n-1 (row swaps k <-> p).
        p = xp.argmax(xp.where(rows >= k, col, below_low))
        perm = xp.where(rows == k, xp.astype(p, idt), xp.where(rows == p, xp.asarray(k, dtype=idt, device=device), rows))
        m = xp.take(m, perm, axis=0)
        pivot_row = m[k, :] / m[k, k]
        factors = xp.expand_dims(m[:, k], axis=1)
        eliminated = m - factors * xp.expand_dims(pivot_row, axis=0)
        m = xp.where(xp.expand_dims(rows == k, axis=1), xp.expand_dims(pivot_row, axis=0), eliminated)
    return m[:, n:]
