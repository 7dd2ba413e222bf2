"""Sigmoid-smoothed ranks in bounded memory (PNPLoss, SmoothAPLoss).

For each query ``i`` (a row), item values ``v[i, j]`` (J per row), competitor values
``c[i, k]`` (K per row) with a 0/1 mask ``C[i, k]``, and the sigmoid
``sigma(x) = 1 / (1 + exp(clip(-x / tau, -bound, bound)))``, the soft rank of item ``j`` is

    ``R[i, j] = sum_k C[i, k] * sigma(c[i, k] - v[i, j])``,

the smoothed number of competitors ranked above the item. PML builds (N, N, N) tensors
of differences (several copies, all kept by autograd). Here rows are processed in blocks
of at most :data:`BLOCK` entries of the (rows, J, K) difference tensor, without an
autograd graph: :func:`soft_ranks` returns ``R`` and :func:`soft_rank_vjp` the gradients
of ``sum(U * R)`` with respect to ``v`` and ``c`` for an upstream ``U = dL/dR``. A loss
returns :func:`agnostic_ml.losses._linearize.linearized`, whose value is the loss and
whose gradient is exact (first order). Memory is O(N * (J + K)) plus a few blocks; time
O(N * J * K). The losses pass only the items they need (a row's positives, J = the class
size) instead of every column, which also makes them faster than PML.

The derivative used is ``sigma (1 - sigma) / tau`` everywhere; outside the clip the exact
derivative is 0 (PNP's clamp) or ``exp(-|x| / tau)``-small, and ``sigma (1 - sigma)`` is
below ``1e-21`` there, so gradients agree with autograd's to ~1e-20 per entry.
"""

from __future__ import annotations

from typing import Any


import numpy as np

from .._array_api import at, from_host_indices, index_dtype, namespace_and_device, no_grad, to_numpy

Array = Any

#: Entries of one (rows, J, K) block tensor (a few of them are alive at a time).
BLOCK = 1 << 20

#: PNP's clip of the sigmoid's exponent (PML's PNPLoss.sigmoid).
PNP_BOUND = 50.0
#: A clip for the plain sigmoid: ``exp(80)`` fits float32, and ``sigma(80)`` is 1 in float64.
PLAIN_BOUND = 80.0


def _blocks(n: int, j: int, k: int) -> list[tuple[int, int]]:
    rows = max(1, BLOCK // max(1, j * k))
    return [(s, min(s + rows, n)) for s in range(0, n, rows)]


def _write(out: Array, a: int, b: int, block: Array) -> Array:
    """``out[a:b] = block`` into a preallocated output (no autograd involved).

    Writing into one preallocated array instead of collecting the blocks and concatenating
    matters for memory: small results allocated between the freed block temporaries
    fragment the heap (glibc), which then grew by about one block per iteration
    (4 GB at N = 1024 in a test).
    """
    return at(out, (slice(a, b), slice(None))).set(block)


def _sigmoid_block(v: Array, c: Array, bound: float, xp: Any) -> Array:
    """``y[i, j, k] = sigma(c[i, k] - v[i, j])`` for a block of rows of ``v / tau`` and ``c / tau``."""
    e = xp.clip(v[:, :, None] - c[:, None, :], -bound, bound)
    return 1 / (1 + xp.exp(e))


def soft_ranks(items: Array, comps: Array, comp_mask: Array, tau: float, *, bound: float = PLAIN_BOUND) -> Array:
    """``R[i, j] = sum_k C[i, k] sigma((c[i, k] - v[i, j]) / tau)`` (no graph), shape of ``items``.

    >>> import numpy as np
    >>> s = np.array([[0.9, 0.5, 0.1]])
    >>> soft_ranks(s, s, np.ones((1, 3)), 1e-3).round(3).tolist()  # each item also meets itself: + 0.5
    [[0.5, 1.5, 2.5]]
    """
    xp, device = namespace_and_device(items, comps)
    n, j = items.shape
    k = comps.shape[1]
    with no_grad(xp):
        out = xp.zeros((n, j), dtype=items.dtype, device=device)
        mask = xp.astype(comp_mask, comps.dtype)
        v, c = items / tau, comps / tau
        for a, b in _blocks(n, j, k):
            y = _sigmoid_block(v[a:b, ...], c[a:b, ...], bound, xp)
            out = _write(out, a, b, xp.sum(y * mask[a:b, ...][:, None, :], axis=2))
        return out


def soft_rank_vjp(
    items: Array, comps: Array, comp_mask: Array, upstream: Array, tau: float, *, bound: float = PLAIN_BOUND
) -> tuple[Array, Array]:
    """Gradients of ``sum(U * R)`` for :func:`soft_ranks`' ``R`` w.r.t. ``items`` and ``comps`` (no graph).

    With ``y' = sigma (1 - sigma)`` of the block:
    ``d/dc[i, k] = C[i, k] sum_j U[i, j] y'[i, j, k] / tau`` and
    ``d/dv[i, j] = -U[i, j] sum_k C[i, k] y'[i, j, k] / tau``.
    """
    xp, device = namespace_and_device(items, comps)
    n, j = items.shape
    k = comps.shape[1]
    with no_grad(xp):
        g_items = xp.zeros((n, j), dtype=items.dtype, device=device)
        g_comps = xp.zeros((n, k), dtype=comps.dtype, device=device)
        mask = xp.astype(comp_mask, comps.dtype)
        up = xp.astype(upstream, items.dtype)
        v, c = items / tau, comps / tau
        for a, b in _blocks(n, j, k):
            y = _sigmoid_block(v[a:b, ...], c[a:b, ...], bound, xp)
            dy = y * (1 - y)
            mb, ub = mask[a:b, ...], up[a:b, ...]
            g_comps = _write(g_comps, a, b, mb * xp.sum(dy * ub[:, :, None], axis=1) / tau)
            g_items = _write(g_items, a, b, -ub * xp.sum(dy * mb[:, None, :], axis=2) / tau)
        return g_items, g_comps


def class_members(labels: Array, like: Array) -> tuple[Array, Array]:
    """``(idx, valid)``, both (N, J): row ``i``'s same-label rows (itself included), padded.

    ``J`` is the largest class size (one host sync); ``idx[i, t]`` for ``t`` past the size
    of ``i``'s class repeats its last member and ``valid[i, t]`` is False there. Members
    come in index order.

    >>> import numpy as np
    >>> idx, valid = class_members(np.array([1, 0, 1]), np.zeros(3))
    >>> idx.tolist(), valid.tolist()
    ([[0, 2], [1, 1], [0, 2]], [[True, True], [True, False], [True, True]])
    """
    xp, device = namespace_and_device(like)
    host = to_numpy(labels)
    n = host.shape[0]
    _, codes, sizes = np.unique(host, return_inverse=True, return_counts=True)
    codes = codes.reshape(-1)
    order = np.argsort(codes, kind="stable")
    start = np.cumsum(sizes) - sizes
    width = int(sizes.max()) if n else 0
    t = np.arange(width)[None, :]
    size = sizes[codes][:, None]
    pos = start[codes][:, None] + np.minimum(t, size - 1)
    idx = from_host_indices(order[pos] if n else np.zeros((0, 0), dtype=np.int64), xp, device)
    valid = xp.asarray(t < size, dtype=xp.bool, device=device)
    return xp.astype(idx, index_dtype(xp, device)), valid
