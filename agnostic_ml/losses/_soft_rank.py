"""Sigmoid-smoothed ranks of a similarity matrix in bounded memory (PNPLoss, SmoothAPLoss).

For a similarity matrix ``s`` (N x M), a 0/1 matrix of competitors ``C`` (N x M) and a
sigmoid ``sigma``, the soft rank of item ``j`` for query ``i`` is

    ``R[i, j] = sum_k C[i, k] * [k != j if exclude_self] * sigma(s[i, k] - s[i, j])``,

the smoothed number of competitors ranked above ``j``. PML builds the (N, M, M) tensor of
differences (and several copies of it) with autograd recording all of them: O(N * M^2)
memory. Here rows of ``s`` are processed in blocks of at most :data:`BLOCK` entries of the
(rows, M, M) difference tensor, without an autograd graph: :func:`soft_ranks` returns
``R`` and :func:`soft_rank_vjp` the gradient ``G = d(sum(U * R)) / ds`` for an upstream
``U = dL/dR``. A loss then returns :func:`agnostic_ml.losses._linearize.linearized`, whose
value is the loss and whose gradient is exactly ``G`` chained through ``s``. Memory is
O(N * M) plus one block; time O(N * M^2), as PML.
"""

from __future__ import annotations

from typing import Any, Callable

from .._array_api import eye_mask, namespace_and_device, no_grad

Array = Any

#: Entries of the (rows, M, M) block tensors (a few of them are alive at a time).
BLOCK = 1 << 21


def plain_sigmoid(tau: float) -> Callable[[Array, Any], tuple[Array, Array]]:
    """``y = 1 / (1 + exp(-d / tau))`` (evaluated without overflow) and ``dy/dd = y (1 - y) / tau``."""

    def f(d: Array, xp: Any) -> tuple[Array, Array]:
        x = d / tau
        e = xp.exp(-xp.abs(x))
        y = xp.where(x >= 0, 1 / (1 + e), e / (1 + e))
        return y, y * (1 - y) / tau

    return f


def clamped_sigmoid(tau: float, bound: float = 50.0) -> Callable[[Array, Any], tuple[Array, Array]]:
    """PML's PNP sigmoid ``y = 1 / (1 + exp(clip(-d / tau, -bound, bound)))``.

    Its derivative is ``y (1 - y) / tau`` inside the clip and 0 outside (as torch's clamp,
    whose gradient passes where ``-bound <= -d/tau <= bound``).
    """

    def f(d: Array, xp: Any) -> tuple[Array, Array]:
        e = -d / tau
        inside = xp.logical_and(e >= -bound, e <= bound)
        y = 1 / (1 + xp.exp(xp.clip(e, -bound, bound)))
        return y, xp.where(inside, y * (1 - y) / tau, xp.zeros_like(y))

    return f


def _off_diagonal(comp: Array, exclude_self: bool, xp: Any, device: Any) -> Array | None:
    """(1, M, M) 0/1 mask of ``k != j``, or None when nothing is excluded."""
    if not exclude_self:
        return None
    m = comp.shape[1]
    return xp.astype(xp.logical_not(eye_mask(m, m, xp, device)), comp.dtype)[None, ...]


def _weights(comp: Array, start: int, stop: int, off: Array | None) -> Array:
    w = comp[start:stop, ...][:, None, :]
    return w if off is None else w * off


def _blocks(n: int, m: int) -> list[tuple[int, int]]:
    rows = max(1, BLOCK // max(1, m * m))
    return [(s, min(s + rows, n)) for s in range(0, n, rows)]


def soft_ranks(
    s: Array, competitors: Array, sigmoid: Callable[[Array, Any], tuple[Array, Array]], *, exclude_self: bool
) -> Array:
    """``R[i, j] = sum_k C[i, k] [k != j] sigmoid(s[i, k] - s[i, j])`` (no graph), N x M.

    >>> import numpy as np
    >>> s = np.array([[0.9, 0.5, 0.1]])
    >>> soft_ranks(s, np.ones((1, 3)), plain_sigmoid(1e-3), exclude_self=True).round(3).tolist()
    [[0.0, 1.0, 2.0]]
    """
    xp, device = namespace_and_device(s)
    n, m = s.shape
    comp = xp.astype(competitors, s.dtype)
    out = []
    with no_grad(xp):
        off = _off_diagonal(comp, exclude_self, xp, device)
        for a, b in _blocks(n, m):
            sb = s[a:b, ...]
            y, _ = sigmoid(sb[:, None, :] - sb[:, :, None], xp)
            out.append(xp.sum(y * _weights(comp, a, b, off), axis=2))
        return xp.concat(out, axis=0) if out else xp.zeros((0, m), dtype=s.dtype, device=device)


def soft_rank_vjp(
    s: Array,
    competitors: Array,
    upstream: Array,
    sigmoid: Callable[[Array, Any], tuple[Array, Array]],
    *,
    exclude_self: bool,
) -> Array:
    """``G = d(sum(upstream * R)) / ds`` for :func:`soft_ranks`' ``R`` (no graph), N x M.

    With ``Q[i, j, k] = upstream[i, j] C[i, k] [k != j] sigmoid'(s[i, k] - s[i, j])``:
    ``G[i, k] = sum_j Q[i, j, k] - sum_j' Q[i, k, j']`` (``s[i, k]`` enters as the competitor
    and as the item).
    """
    xp, device = namespace_and_device(s)
    n, m = s.shape
    comp = xp.astype(competitors, s.dtype)
    up = xp.astype(upstream, s.dtype)
    out = []
    with no_grad(xp):
        off = _off_diagonal(comp, exclude_self, xp, device)
        for a, b in _blocks(n, m):
            sb = s[a:b, ...]
            _, dy = sigmoid(sb[:, None, :] - sb[:, :, None], xp)
            q = up[a:b, ...][:, :, None] * _weights(comp, a, b, off) * dy
            out.append(xp.sum(q, axis=1) - xp.sum(q, axis=2))
        return xp.concat(out, axis=0) if out else xp.zeros((0, m), dtype=s.dtype, device=device)
