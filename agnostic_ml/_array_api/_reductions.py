"""Reductions the standard lacks: weighted bincount (segment sum)."""

from __future__ import annotations

import array_api_compat as aac

from .._typing import Array, Namespace
from ._namespace import is_torch, numpy_like


def weighted_bincount(ids: Array, weights: Array, n: int, *, xp: Namespace) -> Array:
    """``out[k] = sum(weights[ids == k])`` for ``k < n`` (1-D), in ``weights``' dtype.

    A segment sum in O(len(ids)) memory (a one-hot matmul over all of ``ids`` would be
    O(len(ids) * n)). There is no bincount / segment sum in the standard (array-api#812,
    spec PR #960). Fast paths: torch ``index_add`` (differentiable; raises on ids out of
    range) and NumPy/CuPy ``bincount`` (float64 accumulation, cast back; these libraries
    have no autograd). Generic fallback: one-hot matmuls over chunks of ``ids`` with
    O(2**22) memory each (differentiable where the namespace is); ids out of range are
    dropped there. ``ids`` must be integer and in ``[0, n)``.
    """
    device = aac.device(weights)
    if is_torch(xp):
        import torch

        out = torch.zeros(n, dtype=weights.dtype, device=weights.device)
        return out.index_add(0, ids.to(torch.int64), weights)
    mod = numpy_like(xp)
    if mod is not None:
        out = mod.bincount(ids, weights=weights, minlength=n)
        if out.shape[0] > n:
            raise ValueError(f"ids must be in [0, {n}), got a maximum of {out.shape[0] - 1}")
        return out.astype(weights.dtype, copy=False)
    m = ids.shape[0]
    out = xp.zeros((n,), dtype=weights.dtype, device=device)
    if m == 0 or n == 0:
        return out
    classes = xp.arange(n, dtype=ids.dtype, device=device)
    chunk = max(1, (1 << 22) // n)
    for s in range(0, m, chunk):
        e = min(s + chunk, m)
        onehot = xp.astype(xp.expand_dims(ids[s:e], axis=1) == xp.expand_dims(classes, axis=0), weights.dtype)
        out = out + xp.matmul(weights[s:e], onehot)
    return out
