"""Small differentiable array-API building blocks shared by the loss formulas.

Each is written once against the standard (differentiable when the arrays are torch
tensors). Where torch's own operator has a different gradient convention at a kink, the
one here follows torch's (``relu'(0) = 0``), so that gradients equal PML's.
"""

from __future__ import annotations

from typing import Any

from .._array_api import index_dtype, namespace_and_device, weighted_bincount

Array = Any


def relu(x: Array) -> Array:
    """``max(x, 0)`` with gradient 0 at ``x == 0`` (as ``torch.relu``; ``maximum`` would split it)."""
    xp, _ = namespace_and_device(x)
    return xp.where(x > 0, x, xp.zeros_like(x))


def softplus(x: Array) -> Array:
    """``log(1 + exp(x))``, stable for large ``|x|`` (``logaddexp(x, 0)``)."""
    xp, _ = namespace_and_device(x)
    return xp.logaddexp(x, xp.zeros_like(x))


def gather_pairs(mat: Array, rows: Array, cols: Array) -> Array:
    """``mat[rows[k], cols[k]]`` for each k (a differentiable gather on the flattened matrix)."""
    xp, _ = namespace_and_device(mat)
    flat = xp.reshape(mat, (-1,))
    return xp.take(flat, rows * mat.shape[1] + cols)


def pair_counts(rows: Array, cols: Array, shape: tuple[int, int], like: Array) -> Array:
    """``(n, m)`` matrix of how often each pair ``(rows[k], cols[k])`` occurs, in ``like``'s float dtype."""
    xp, device = namespace_and_device(like)
    n, m = shape
    idt = index_dtype(xp, device)
    flat = xp.astype(rows, idt) * m + xp.astype(cols, idt)
    ones = xp.ones(flat.shape, dtype=like.dtype, device=device)
    return xp.reshape(weighted_bincount(flat, ones, n * m, xp=xp), (n, m))


def pair_mask(rows: Array, cols: Array, shape: tuple[int, int], like: Array) -> Array:
    """PML's ``mask[rows, cols] = 1`` as a float ``(n, m)`` matrix of ``like``'s dtype (no in-place write)."""
    xp, _ = namespace_and_device(like)
    counts = pair_counts(rows, cols, shape, like)
    return xp.astype(counts > 0, like.dtype)
