"""Retrieval metrics as pure functions of the ranks of the relevant references.

Every rank-based retrieval metric of a query depends only on *where* its relevant
references appear in its ranking. The functions here take

``ranks`` : (n, M) integer array
    For each query, the 1-based ranks of its relevant references in increasing order
    (rank 1 = nearest neighbour, the query itself excluded). Entries that are unknown
    (beyond the cutoff the ranks were computed to, or past the last relevant reference)
    hold any value larger than every cutoff used, e.g. :data:`RANK_NONE`. Every relevant
    reference with a rank ``<= cutoff`` must be listed, so that the ``j``-th listed rank
    belongs to the ``j``-th relevant reference.
``n_rel`` : (n,) integer array
    ``R``, the number of relevant references of each query (the reference items with the
    query's label, the query itself excluded).

and return one value per query (float64 where the namespace/device has it), NaN where a
value is undefined (``R = 0``, a "lone" query). ``AccuracyCalculator`` averages them.
Build ``ranks`` from a ``(n, K)`` boolean relevance matrix of a kNN result with
:func:`ranks_from_relevance`.

Definitions (``r_j``: rank of the ``j``-th relevant reference, ``[.]``: 1 if true else 0):

=============================== ==================================================================
``precision_at_1``              ``[r_1 = 1]``
``r_precision``                 ``#{j: r_j <= R} / R``
``mean_average_precision_at_r`` ``sum_{j: r_j <= R} (j / r_j) / R``  (MAP@R, Musgrave et al. 2020)
``mean_average_precision``      ``sum_{j: r_j <= k} (j / r_j) / R``  (PML: divides by R even if k < R)
``reciprocal_rank``             ``1 / r_1`` if ``r_1 <= k`` else 0
``cmc_at_k``                    ``[r_1 <= k]`` (OML)
``precision_at_k``              ``#{j: r_j <= k} / min(R, k)`` (OML)
``map_at_k``                    ``sum_{j: r_j <= k} (j / r_j) / #{j: r_j <= k}``, 0 without hits (OML 4)
``ndcg_at_k``                   ``sum_{j: r_j <= k} 1/log2(r_j + 1)  /  sum_{i=1}^{min(k, R)} 1/log2(i + 1)``
=============================== ==================================================================

nDCG@k is not in PML or OML; this is the standard definition with binary relevance
(Järvelin & Kekäläinen 2002): gain 1 for a relevant item, discount ``log2(rank + 1)``,
normalised by the ideal ranking (all ``R`` relevant items first, truncated at ``k``).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

from .._array_api import index_dtype, namespace_and_device, to_numpy
from ._backend_extras import device_of, has_float64
from ._percentile import lerp, percentile_points
from ._settings import check_fmr_values

Array = Any

#: Rank used for "not within the computed cutoff / no such relevant item".
RANK_NONE = 2**62

__all__ = [
    "RANK_NONE",
    "ranks_from_relevance",
    "precision_at_1",
    "r_precision",
    "mean_average_precision_at_r",
    "mean_average_precision",
    "reciprocal_rank",
    "cmc_at_k",
    "precision_at_k",
    "map_at_k",
    "ndcg_at_k",
    "fnmr_at_fmr",
    "percentile",
]


def _float_dtype(xp: Any, device: Any) -> Any:
    """float64 where the namespace and device support it, else float32."""
    return xp.float64 if has_float64(xp, device) else xp.float32


def _setup(ranks: Array, n_rel: Array | None = None) -> tuple[Any, Any, Any, Array, Array]:
    xp, device = namespace_and_device(ranks)
    if ranks.ndim != 2:
        raise ValueError(f"ranks must be 2-D (queries, relevant items), got shape {tuple(ranks.shape)}")
    if n_rel is not None and (n_rel.ndim != 1 or n_rel.shape[0] != ranks.shape[0]):
        raise ValueError(f"n_rel must be 1-D of length {ranks.shape[0]}, got shape {tuple(n_rel.shape)}")
    fdt = _float_dtype(xp, device)
    idt = index_dtype(xp, device)
    r = xp.astype(ranks, idt)
    j = xp.arange(1, ranks.shape[1] + 1, dtype=idt, device=device)
    return xp, device, fdt, r, j


def _cut(k: int | Array | None, r: Array, xp: Any) -> Array:
    """Broadcastable cutoff: a Python int, None (no cutoff) or a per-query (n,) array."""
    if k is None:
        return xp.asarray(RANK_NONE - 1, dtype=r.dtype, device=device_of(r))
    if isinstance(k, int):
        return xp.asarray(k, dtype=r.dtype, device=device_of(r))
    return xp.expand_dims(xp.astype(k, r.dtype), axis=1)


def _first(r: Array, xp: Any) -> Array:
    if r.shape[1] == 0:
        return xp.full((r.shape[0],), RANK_NONE, dtype=r.dtype, device=device_of(r))
    return r[:, 0]


def _nan_where_empty(value: Array, n_rel: Array, xp: Any) -> Array:
    nan = xp.asarray(math.nan, dtype=value.dtype, device=device_of(value))
    return xp.where(n_rel > 0, value, nan)


def _safe_div(num: Array, den: Array, xp: Any) -> Array:
    one = xp.ones_like(den)
    return num / xp.where(den > 0, den, one)


def ranks_from_relevance(relevant: Array) -> Array:
    """Ranks of the relevant items from a ``(n, K)`` boolean kNN relevance matrix.

    ``relevant[i, c]`` is True when the ``c``-th neighbour (0-based, best first) of query
    ``i`` is relevant. Returns ``(n, K)`` ranks (1-based, increasing), padded with
    :data:`RANK_NONE`. Valid for every cutoff ``<= K``.

    Examples
    --------
    >>> import numpy as np
    >>> ranks_from_relevance(np.array([[False, True, True]])).tolist()[0][:2]
    [2, 3]
    """
    xp, device = namespace_and_device(relevant)
    if relevant.ndim != 2:
        raise ValueError(f"relevant must be 2-D, got shape {tuple(relevant.shape)}")
    idt = index_dtype(xp, device)
    pos = xp.arange(1, relevant.shape[1] + 1, dtype=idt, device=device)
    none = xp.asarray(RANK_NONE, dtype=idt, device=device)
    return xp.sort(xp.where(xp.astype(relevant, xp.bool), pos, none), axis=1, stable=False)


def precision_at_1(ranks: Array) -> Array:
    """``[r_1 = 1]``: whether the nearest neighbour is relevant (PML ``precision_at_1``).

    Examples
    --------
    >>> import numpy as np
    >>> precision_at_1(np.array([[1, 3], [2, 5]])).tolist()
    [1.0, 0.0]
    """
    xp, _, fdt, r, _ = _setup(ranks)
    return xp.astype(_first(r, xp) == 1, fdt)


def r_precision(ranks: Array, n_rel: Array) -> Array:
    """``#{j: r_j <= R} / R``: the precision of the first ``R`` neighbours (PML ``r_precision``).

    Examples
    --------
    >>> import numpy as np
    >>> r_precision(np.array([[1, 3]]), np.array([2])).tolist()
    [0.5]
    """
    xp, _, fdt, r, _ = _setup(ranks, n_rel)
    hits = xp.sum(xp.astype(r <= _cut(n_rel, r, xp), fdt), axis=1)
    return _nan_where_empty(_safe_div(hits, xp.astype(n_rel, fdt), xp), n_rel, xp)


def mean_average_precision_at_r(ranks: Array, n_rel: Array) -> Array:
    """MAP@R: ``sum_{j: r_j <= R} (j / r_j) / R`` (PML ``mean_average_precision_at_r``).

    Examples
    --------
    >>> import numpy as np
    >>> mean_average_precision_at_r(np.array([[1, 3]]), np.array([2])).tolist()
    [0.5]
    """
    return mean_average_precision(ranks, n_rel, n_rel)


def mean_average_precision(ranks: Array, n_rel: Array, k: int | Array | None = None) -> Array:
    """``sum_{j: r_j <= k} (j / r_j) / R`` (PML ``mean_average_precision``).

    ``k=None`` is the full average precision. As in PML the sum is divided by ``R`` even
    when ``k < R``.

    Examples
    --------
    >>> import numpy as np
    >>> mean_average_precision(np.array([[1, 3]]), np.array([2])).tolist()  # (1/1 + 2/3) / 2
    [0.8333333333333333]
    """
    xp, _, fdt, r, j = _setup(ranks, n_rel)
    inside = r <= _cut(k, r, xp)
    prec = xp.astype(j, fdt) / xp.astype(r, fdt)
    s = xp.sum(xp.where(inside, prec, xp.zeros_like(prec)), axis=1)
    return _nan_where_empty(_safe_div(s, xp.astype(n_rel, fdt), xp), n_rel, xp)


def reciprocal_rank(ranks: Array, k: int | None = None) -> Array:
    """``1 / r_1`` if the first relevant neighbour is within the first ``k``, else 0.

    The mean over queries is PML's ``mean_reciprocal_rank`` (``k=None``: no cutoff).

    Examples
    --------
    >>> import numpy as np
    >>> reciprocal_rank(np.array([[2, 3], [5, 6]]), k=4).tolist()
    [0.5, 0.0]
    """
    xp, _, fdt, r, _ = _setup(ranks)
    r1 = _first(r, xp)
    inside = r1 <= _cut(k, r, xp)
    rr = 1.0 / xp.astype(r1, fdt)
    return xp.where(inside, rr, xp.zeros_like(rr))


def cmc_at_k(ranks: Array, k: int) -> Array:
    """``[r_1 <= k]``: a relevant item among the first ``k`` (OML ``cmc@k``).

    Examples
    --------
    >>> import numpy as np
    >>> cmc_at_k(np.array([[2, 3], [5, 6]]), 2).tolist()
    [1.0, 0.0]
    """
    xp, _, fdt, r, _ = _setup(ranks)
    return xp.astype(_first(r, xp) <= _cut(k, r, xp), fdt)


def precision_at_k(ranks: Array, n_rel: Array, k: int) -> Array:
    """``#{j: r_j <= k} / min(R, k)`` (OML ``precision@k``: a perfect ranking scores 1 when ``R < k``).

    Examples
    --------
    >>> import numpy as np
    >>> precision_at_k(np.array([[1, 3]]), np.array([2]), 5).tolist()
    [1.0]
    """
    xp, device, fdt, r, _ = _setup(ranks, n_rel)
    hits = xp.sum(xp.astype(r <= _cut(k, r, xp), fdt), axis=1)
    den = xp.minimum(xp.astype(n_rel, fdt), xp.asarray(float(k), dtype=fdt, device=device))
    return _nan_where_empty(_safe_div(hits, den, xp), n_rel, xp)


def map_at_k(ranks: Array, k: int) -> Array:
    """OML 4 ``map@k``: ``sum_{j: r_j <= k} (j / r_j) / #{j: r_j <= k}``, 0 when nothing relevant is in the top ``k``.

    The average is over the relevant items *found* in the top ``k`` (OML 4.0); older OML
    releases divided by ``min(k, R)`` instead.

    Examples
    --------
    >>> import numpy as np
    >>> map_at_k(np.array([[1, 3]]), 5).tolist()  # (1/1 + 2/3) / 2
    [0.8333333333333333]
    """
    xp, _, fdt, r, j = _setup(ranks)
    inside = r <= _cut(k, r, xp)
    prec = xp.astype(j, fdt) / xp.astype(r, fdt)
    s = xp.sum(xp.where(inside, prec, xp.zeros_like(prec)), axis=1)
    hits = xp.sum(xp.astype(inside, fdt), axis=1)
    return _safe_div(s, hits, xp)


def ndcg_at_k(ranks: Array, n_rel: Array, k: int) -> Array:
    """nDCG@k with binary relevance: ``DCG@k / IDCG@k``.

    ``DCG@k = sum_{j: r_j <= k} 1 / log2(r_j + 1)``; ``IDCG@k = sum_{i=1}^{min(k, R)} 1 / log2(i + 1)``.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(ndcg_at_k(np.array([[2]]), np.array([1]), 3)[0]), 4)  # (1/log2 3) / 1
    0.6309
    """
    xp, device, fdt, r, _ = _setup(ranks, n_rel)
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    inside = r <= _cut(k, r, xp)
    rf = xp.astype(xp.where(inside, r, xp.ones_like(r)), fdt)
    gain = 1.0 / (xp.log(rf + 1.0) / math.log(2.0))
    dcg = xp.sum(xp.where(inside, gain, xp.zeros_like(gain)), axis=1)
    pos = xp.arange(1, k + 1, dtype=fdt, device=device)
    ideal = xp.cumulative_sum(1.0 / (xp.log(pos + 1.0) / math.log(2.0)))
    idt = index_dtype(xp, device)
    m = xp.clip(xp.astype(n_rel, idt), 1, k) - 1
    idcg = xp.take(ideal, m, axis=0)
    # DCG <= IDCG exactly; the clip removes rounding (the sums run in different orders).
    return _nan_where_empty(xp.minimum(dcg / idcg, xp.ones_like(dcg)), n_rel, xp)


def percentile(values: Array, q: Sequence[float]) -> list[float]:
    """Percentiles ``q`` (in percent) of a 1-D array, NumPy's default (linear) method.

    Returns Python floats; ``values`` must be non-empty.
    """
    xp, device = namespace_and_device(values)
    n = values.shape[0]
    if n == 0:
        raise ValueError("percentile of an empty array")
    s = xp.sort(values, stable=False)
    out = []
    for qq in q:
        lo, hi, t = percentile_points(qq, n)
        out.append(lerp(float(to_numpy(s[lo])), float(to_numpy(s[hi])), t))
    return out


def fnmr_at_fmr(pos_dist: Array, neg_dist: Array, fmr_vals: Sequence[float] = (1.0,)) -> list[float]:
    """False non-match rate at given false match rates (OML ``fnmr@fmr``).

    For each ``fmr`` (in percent, OML's convention) the threshold ``T`` is the ``fmr``-th
    percentile of the negative (different-label) distances, linear interpolation as
    ``numpy.percentile``; the FNMR is the fraction of positive (same-label) distances
    ``>= T``. Returns fractions in [0, 1] (NaN when there are no positives or negatives).
    For similarities pass negated values.

    Examples
    --------
    >>> import numpy as np
    >>> pos = np.array([0, 0, 1, 1, 2, 2, 5, 5, 9, 9.0])
    >>> neg = np.array([3, 3, 4, 4, 6, 6, 7, 7, 8, 8.0])
    >>> fnmr_at_fmr(pos, neg, (10, 50))
    [0.4, 0.2]
    """
    xp, _ = namespace_and_device(pos_dist, neg_dist)
    check_fmr_values(fmr_vals)
    if pos_dist.shape[0] == 0 or neg_dist.shape[0] == 0:
        return [math.nan] * len(fmr_vals)
    thresholds = percentile(neg_dist, fmr_vals)
    out = []
    for t in thresholds:
        tt = xp.asarray(t, dtype=pos_dist.dtype, device=device_of(pos_dist))
        out.append(float(to_numpy(xp.sum(xp.astype(pos_dist >= tt, xp.int64)))) / pos_dist.shape[0])
    return out

