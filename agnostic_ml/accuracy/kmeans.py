"""k-means (Lloyd's algorithm with greedy k-means++ seeding) on any array backend.

All distance computations run on the embeddings' device, in blocks of rows; only the
random draws of the seeding are made on the host, from an explicit ``rng``, and one small
host sync per seeding step / iteration reads back a scalar (the chosen candidate, the
centre shift, the cluster sizes). Same ``rng``, same clustering on every backend (up to
floating-point ties).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._array_api import floating_work_dtype, from_host_indices, index_dtype, namespace_and_device, no_grad, to_numpy, topk
from .._checks import check_embeddings
from .._checks import check_finite as check_finite_
from ._backend_extras import device_of
from .dask_support import materialize

Array = Any

# Elements of one (rows x clusters) block of squared distances / one-hot rows.
_BLOCK_ELEMENTS = 1 << 22


def _sq_dist(a: Array, a_sq: Array, b: Array, b_sq: Array, xp: Any) -> Array:
    """``max(|a_i|^2 + |b_j|^2 - 2 a_i.b_j, 0)`` for every pair (one GEMM)."""
    g = xp.matmul(a, xp.matrix_transpose(b))
    d = xp.expand_dims(a_sq, axis=1) + xp.expand_dims(b_sq, axis=0) - 2 * g
    return xp.maximum(d, xp.zeros_like(d))


def _assign(x: Array, x_sq: Array, centers: Array, xp: Any) -> tuple[Array, Array]:
    """Nearest centre of every row (ties: the lower centre index) and its squared distance."""
    n, k = x.shape[0], centers.shape[0]
    c_sq = xp.sum(centers * centers, axis=1)
    step = max(1, _BLOCK_ELEMENTS // max(1, k))
    labels, mind = [], []
    for s in range(0, n, step):
        e = min(s + step, n)
        d = _sq_dist(x[s:e, ...], x_sq[s:e], centers, c_sq, xp)
        labels.append(xp.argmin(d, axis=1))
        mind.append(xp.min(d, axis=1))
    if len(labels) == 1:
        return labels[0], mind[0]
    return xp.concat(labels), xp.concat(mind)


def _update(x: Array, labels: Array, mind: Array, k: int, xp: Any) -> Array:
    """Cluster means; an empty cluster gets the point farthest from its centre (one each).

    Sums are one-hot products per block of rows, ``x_blk^T @ onehot_blk`` (D x k), which
    stay on the device in O(rows * k) memory.
    """
    device = device_of(x)
    n = x.shape[0]
    step = max(1, _BLOCK_ELEMENTS // max(1, k))
    classes = xp.arange(k, dtype=labels.dtype, device=device)
    sums_t = xp.zeros((x.shape[1], k), dtype=x.dtype, device=device)
    counts = xp.zeros((k,), dtype=x.dtype, device=device)
    for s in range(0, n, step):
        e = min(s + step, n)
        onehot = xp.astype(xp.expand_dims(labels[s:e], axis=1) == xp.expand_dims(classes, axis=0), x.dtype)
        sums_t = sums_t + xp.matmul(xp.matrix_transpose(x[s:e, ...]), onehot)
        counts = counts + xp.sum(onehot, axis=0)
    means = xp.matrix_transpose(sums_t) / xp.expand_dims(xp.maximum(counts, xp.ones_like(counts)), axis=1)
    empty = np.flatnonzero(np.asarray(to_numpy(counts)) == 0)
    if empty.size == 0:
        return means
    _, far = topk(xp.expand_dims(mind, axis=0), min(int(empty.size), n), largest=True, xp=xp)
    source = np.arange(k)
    source[empty[: far.shape[1]]] = k + np.arange(far.shape[1])
    stacked = xp.concat([means, xp.take(x, far[0, :], axis=0)], axis=0)
    return xp.take(stacked, from_host_indices(source, xp, device), axis=0)


def _kmeans_plusplus(x: Array, x_sq: Array, k: int, gen: np.random.Generator, xp: Any) -> Array:
    """Greedy k-means++ (Arthur & Vassilvitskii 2007, with ``2 + log k`` local trials)."""
    device = device_of(x)
    n = x.shape[0]
    trials = 2 + int(math.log(k)) if k > 1 else 1
    chosen = [int(gen.integers(n))]
    c = xp.take(x, from_host_indices(np.asarray(chosen), xp, device), axis=0)
    closest = _sq_dist(c, xp.sum(c * c, axis=1), x, x_sq, xp)[0, :]
    pot = float(to_numpy(xp.sum(closest)))
    for _ in range(1, k):
        if not pot > 0:  # every point sits on a centre already
            chosen.append(int(gen.integers(n)))
            continue
        r = gen.random(trials) * pot
        cum = xp.cumulative_sum(closest)
        cand = xp.searchsorted(cum, xp.asarray(r, dtype=cum.dtype, device=device))
        cand = xp.clip(xp.astype(cand, index_dtype(xp, device)), 0, n - 1)
        cx = xp.take(x, cand, axis=0)
        d = _sq_dist(cx, xp.sum(cx * cx, axis=1), x, x_sq, xp)
        new_closest = xp.minimum(xp.expand_dims(closest, axis=0), d)
        pots = np.asarray(to_numpy(xp.sum(new_closest, axis=1)), dtype=np.float64)
        best = int(np.argmin(pots))
        chosen.append(int(np.asarray(to_numpy(cand))[best]))
        closest = new_closest[best, :]
        pot = float(pots[best])
    return xp.take(x, from_host_indices(np.asarray(chosen), xp, device), axis=0)


def kmeans(
    x: Array,
    n_clusters: int,
    *,
    n_init: int = 1,
    max_iter: int = 100,
    tol: float = 1e-4,
    rng: np.random.Generator | int | None = None,
    check_finite: bool = True,
) -> Array:
    """Cluster the rows of ``x`` into ``n_clusters`` groups; returns the labels.

    Lloyd's algorithm from a greedy k-means++ start, repeated ``n_init`` times (the run with
    the lowest inertia ``sum_i min_c |x_i - c|^2`` wins). It stops when the squared centre
    shift is at most ``tol * mean(var(x, axis=0))`` (scikit-learn's criterion) or after
    ``max_iter`` iterations. An empty cluster is re-seeded with the point farthest from its
    centre.

    Parameters
    ----------
    x : (N, D) floating array
    n_clusters : int, 1 <= n_clusters <= N
    n_init, max_iter : positive ints
    tol : float >= 0
    rng : numpy Generator, int seed or None (the seeding's random draws, made on the host)
    check_finite : bool, default True
        The library's non-finite policy: NaN or inf in ``x`` raises ``ValueError`` naming its
        first bad row (one reduction, one host sync); False skips it.

    Returns
    -------
    (N,) int64 array of cluster ids in ``[0, n_clusters)``, in ``x``'s namespace and device.

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.accuracy import kmeans
    >>> x = np.array([[0.0], [0.1], [10.0], [10.1]])
    >>> lab = kmeans(x, 2, rng=0)
    >>> bool(lab[0] == lab[1]) and bool(lab[2] == lab[3]) and bool(lab[0] != lab[2])
    True
    """
    xp, device = namespace_and_device(x)
    check_embeddings(x, "x", xp=xp)
    n = x.shape[0]
    if isinstance(n_clusters, bool) or not isinstance(n_clusters, int) or not 1 <= n_clusters <= max(n, 1):
        raise ValueError(f"n_clusters must be an int in [1, {n}] (the number of rows), got {n_clusters!r}")
    if n == 0:
        raise ValueError("x is empty: k-means needs at least one row")
    for name, v in (("n_init", n_init), ("max_iter", max_iter)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    if not isinstance(tol, (int, float)) or isinstance(tol, bool) or not tol >= 0:
        raise ValueError(f"tol must be a number >= 0, got {tol!r}")
    if check_finite:
        check_finite_(x, "x", xp, where="kmeans")
    gen = np.random.default_rng(rng)
    with no_grad(xp):
        work = floating_work_dtype(x.dtype, xp)
        xw = x if x.dtype == work else xp.astype(x, work)
        x_sq = xp.sum(xw * xw, axis=1)
        tol_abs = float(tol) * float(to_numpy(xp.mean(xp.var(xw, axis=0))))
        best_labels, best_inertia = None, math.inf
        for _ in range(n_init):
            centers = _kmeans_plusplus(xw, x_sq, n_clusters, gen, xp)
            for _ in range(max_iter):
                labels, mind = _assign(xw, x_sq, centers, xp)
                new = _update(xw, labels, mind, n_clusters, xp)
                diff = new - centers
                shift = float(to_numpy(xp.sum(diff * diff)))
                centers = new
                if shift <= tol_abs:
                    break
            labels, mind = _assign(xw, x_sq, centers, xp)
            inertia = float(to_numpy(xp.sum(mind)))
            if best_labels is None or inertia < best_inertia:
                best_labels, best_inertia = labels, inertia
    idt = index_dtype(xp, device)
    return best_labels if best_labels.dtype == idt else xp.astype(best_labels, idt)


class KMeans:
    """k-means as a ``kmeans_func(x, nmb_clusters) -> labels`` (PML's signature).

    ``rng`` as in :func:`kmeans`; an int seed gives the same clustering on every call, a
    ``numpy.random.Generator`` is advanced by each call. A Dask array is computed into
    memory first (k-means needs all points in every iteration).

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.accuracy import KMeans
    >>> KMeans(rng=0)(np.array([[0.0], [0.2], [9.0]]), 2).shape
    (3,)
    """

    def __init__(
        self,
        n_init: int = 1,
        max_iter: int = 100,
        tol: float = 1e-4,
        rng: np.random.Generator | int | None = None,
        check_finite: bool = True,
    ) -> None:
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.rng = rng
        self.check_finite = check_finite

    def __call__(self, x: Array, nmb_clusters: int) -> Array:
        return kmeans(
            materialize(x), nmb_clusters, n_init=self.n_init, max_iter=self.max_iter, tol=self.tol, rng=self.rng,
            check_finite=self.check_finite,
        )

    def __repr__(self) -> str:
        return f"KMeans(n_init={self.n_init}, max_iter={self.max_iter}, tol={self.tol}, rng={self.rng!r})"
