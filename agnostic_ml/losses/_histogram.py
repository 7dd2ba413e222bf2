"""Linearly interpolated histograms (FastAPLoss, HistogramLoss, DynamicSoftMarginLoss).

A value ``x`` on a grid of nodes ``lo, lo + delta, ...`` lands between nodes ``k`` and
``k + 1`` (``k = floor((x - lo) / delta)``) and gives ``1 - t`` to node ``k`` and ``t`` to
node ``k + 1`` (``t`` the fractional part): the triangular kernel ``relu(1 - |x - c|/delta)``
of every node ``c``, evaluated only where it is non-zero. The node index is clipped to
the grid, so a value on (or, by rounding, just beyond) the last node gives its whole
weight to the last node instead of indexing past the end.
"""

from __future__ import annotations

from typing import Any

from .._array_api import index_dtype, namespace_and_device, no_grad, weighted_bincount

Array = Any


def interpolation(x: Array, lo: float, delta: float, n_nodes: int) -> tuple[Array, Array, Array]:
    """``(k, 1 - t, t)``: lower node (clipped to ``[0, n_nodes - 2]``) and the two weights.

    ``t = (x - lo) / delta - k`` is differentiable in ``x``; ``k`` carries no gradient.

    >>> import numpy as np
    >>> k, w0, w1 = interpolation(np.array([0.25, 1.0]), 0.0, 0.5, 3)
    >>> k.tolist(), w0.tolist(), w1.tolist()
    ([0, 1], [0.5, 0.0], [0.5, 1.0])
    """
    xp, device = namespace_and_device(x)
    pos = (x - lo) / delta
    with no_grad(xp):
        k = xp.clip(xp.floor(pos), 0, max(n_nodes - 2, 0))
    t = pos - k
    return xp.astype(k, index_dtype(xp, device)), 1 - t, t


def row_histograms(x: Array, weights: Array, lo: float, delta: float, n_nodes: int) -> Array:
    """``(N, n_nodes)``: row ``i``'s histogram of ``x[i, :]`` with per-entry ``weights``.

    O(N * M) memory (a scatter-add of two weights per entry), differentiable in ``x`` and
    ``weights``.

    >>> import numpy as np
    >>> row_histograms(np.array([[0.25, 1.0]]), np.ones((1, 2)), 0.0, 0.5, 3).tolist()
    [[0.5, 0.5, 1.0]]
    """
    xp, device = namespace_and_device(x)
    n = x.shape[0]
    k, w0, w1 = interpolation(x, lo, delta, n_nodes)
    rows = xp.reshape(xp.arange(n, dtype=k.dtype, device=device), (n, 1)) * n_nodes
    ids = xp.reshape(xp.concat([rows + k, rows + k + 1], axis=1), (-1,))
    vals = xp.reshape(xp.concat([weights * w0, weights * w1], axis=1), (-1,))
    return xp.reshape(weighted_bincount(ids, vals, n * n_nodes, xp=xp), (n, n_nodes))


def histogram(x: Array, weights: Array, lo: float, delta: float, n_nodes: int) -> Array:
    """``(n_nodes,)``: the histogram of all entries of ``x`` (any shape) with ``weights``.

    >>> import numpy as np
    >>> histogram(np.array([0.25, 1.0]), np.ones(2), 0.0, 0.5, 3).tolist()
    [0.5, 0.5, 1.0]
    """
    xp, _ = namespace_and_device(x)
    k, w0, w1 = interpolation(xp.reshape(x, (-1,)), lo, delta, n_nodes)
    w = xp.reshape(weights, (-1,))
    ids = xp.concat([k, k + 1])
    vals = xp.concat([w * w0, w * w1])
    return weighted_bincount(ids, vals, n_nodes, xp=xp)
