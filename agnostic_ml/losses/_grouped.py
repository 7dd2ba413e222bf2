"""Log-sum-exp over the negative pairs of each anchor, without a (pairs x pairs) matrix.

PML's NTXent, LiftedStructure and TupletMargin losses compare every positive pair with
every negative pair (a ``P x N2`` matrix masked by "same anchor"). Each positive pair only
needs the log-sum-exp of its anchor's negative pairs, so the negatives are reduced once per
anchor, with each pair counted as often as it occurs in the tuple (a pair mined twice
enters its anchor's sum twice, as PML's duplicated column does). Two equivalent ways:

- from the matrix (:func:`rows_logsumexp`): the pair multiplicities as an (N, M) count
  matrix (:func:`~agnostic_ml.losses._math.pair_counts`) and a masked row log-sum-exp;
  O(N*M) memory and dense work, the fast path;
- from the pair values alone (:func:`grouped_logsumexp`): the pairs grouped by anchor with
  two sorts; O(N2 + P) memory. This serves PML's hook ``_compute_loss(pos_pairs,
  neg_pairs, indices_tuple)``, which sees no matrix.
"""

from __future__ import annotations

from typing import Any, Callable

from .._array_api import index_dtype, namespace_and_device, no_grad, weighted_bincount
from ._math import pair_counts

Array = Any


def grouped_logsumexp(values: Array, groups: Array, queries: Array) -> tuple[Array, Array]:
    """``log(sum_{j: groups[j] == q} exp(values[j]))`` for every ``q`` in ``queries``.

    Returns ``(lse, found)``: ``lse`` has ``queries``' length and ``values``' dtype, and is
    0 where no ``groups[j]`` equals ``q`` (``found`` False there), with a zero gradient.
    Stable for any range of ``values``: each group is shifted by its own maximum (found by
    sorting, outside the autograd graph; the shift does not change the gradient).
    Differentiable in ``values`` on torch. O(len(values) log len(values)) time.

    Examples
    --------
    >>> import numpy as np
    >>> lse, found = grouped_logsumexp(np.log(np.array([1.0, 2.0, 4.0])), np.array([3, 0, 3]), np.array([3, 1, 0]))
    >>> np.exp(lse).round(6).tolist(), found.tolist()
    ([5.0, 1.0, 2.0], [True, False, True])
    """
    xp, device = namespace_and_device(values, groups, queries)
    idt = index_dtype(xp, device)
    n_q = queries.shape[0]
    n = values.shape[0]
    if n == 0 or n_q == 0:
        return xp.zeros((n_q,), dtype=values.dtype, device=device), xp.zeros((n_q,), dtype=xp.bool, device=device)
    groups = groups if groups.dtype == idt else xp.astype(groups, idt)
    queries = queries if queries.dtype == idt else xp.astype(queries, idt)
    with no_grad(xp):
        # Sort by group, values descending within a group: each group's first entry is its max.
        by_value = xp.argsort(values, descending=True, stable=True)
        perm = xp.take(by_value, xp.argsort(xp.take(groups, by_value), stable=True))
        sorted_groups = xp.take(groups, perm)
        group_max = xp.take(values, perm)  # at a group's first position: that group's maximum
        start = xp.searchsorted(sorted_groups, groups, side="left")  # a compact group id in [0, n)
        lo = xp.searchsorted(sorted_groups, queries, side="left")
        loc = xp.where(lo < n, lo, xp.zeros_like(lo))
        found = xp.take(sorted_groups, loc) == queries
        shift = xp.take(group_max, start)
        q_shift = xp.take(group_max, loc)
    sums = weighted_bincount(start, xp.exp(values - shift), n, xp=xp)
    q_sums = xp.take(sums, loc)
    lse = q_shift + xp.log(xp.where(found, q_sums, xp.ones_like(q_sums)))
    return xp.where(found, lse, xp.zeros_like(lse)), found


def rows_logsumexp(x: Array, counts: Array) -> tuple[Array, Array]:
    """``log(sum_j counts[i, j] exp(x[i, j]))`` per row of ``x`` (N, M), and whether the row has a count.

    ``counts`` are non-negative multiplicities (0 = left out). A row without counts gives 0
    (``found`` False) with a zero gradient. Each row is shifted by its maximum over the
    counted entries (outside the graph); left-out entries never reach ``exp``, so they can
    be anything finite without overflowing or making the gradient NaN.

    >>> import numpy as np
    >>> lse, found = rows_logsumexp(np.log(np.array([[1.0, 2.0], [5.0, 7.0]])), np.array([[2.0, 1.0], [0.0, 0.0]]))
    >>> np.exp(lse).round(6).tolist(), found.tolist()
    ([4.0, 1.0], [True, False])
    """
    xp, device = namespace_and_device(x, counts)
    has = counts > 0
    low = xp.asarray(float(xp.finfo(x.dtype).min), dtype=x.dtype, device=device)
    found = xp.any(has, axis=1)
    with no_grad(xp):
        m = xp.max(xp.where(has, x, low), axis=1, keepdims=True)
        m = xp.where(found[:, None], m, xp.zeros_like(m))
    z = xp.where(has, x - m, xp.zeros_like(x))
    s = xp.sum(xp.astype(counts, x.dtype) * xp.exp(z), axis=1)
    lse = xp.reshape(m, (-1,)) + xp.log(xp.where(found, s, xp.ones_like(s)))
    return xp.where(found, lse, xp.zeros_like(lse)), found


def anchor_negatives_logsumexp(
    transform: Callable[[Array], Array],
    indices_tuple: tuple[Array, ...],
    queries: Array,
    *,
    neg_pairs: Array | None = None,
    mat: Array | None = None,
) -> tuple[Array, Array]:
    """For each batch row ``q`` in ``queries``: ``log(sum_{j: a2_j = q} exp(transform(x_j)))`` and whether it has any.

    ``j`` ranges over the negative pairs ``(a2_j, n_j)`` of ``indices_tuple = (a1, p, a2, n)``
    (a pair listed twice counts twice); ``x_j`` is the pair's value. Give the values either
    as ``mat`` (the (N, M) matrix the pairs index: dense, O(N*M)) or as ``neg_pairs`` (the
    pairs' values in tuple order: grouped, O(N2 log N2) time, O(N2) memory). ``transform``
    is elementwise. ``queries`` outside ``[0, N)`` have no negatives.
    """
    if (neg_pairs is None) == (mat is None):
        raise ValueError("give the negatives either as neg_pairs or as mat")
    _, _, a2, n = indices_tuple
    if neg_pairs is not None:
        return grouped_logsumexp(transform(neg_pairs), a2, queries)
    xp, device = namespace_and_device(mat)
    rows = mat.shape[0]
    counts = pair_counts(a2, n, (rows, mat.shape[1]), mat)
    lse, found = rows_logsumexp(transform(mat), counts)
    if rows == 0:
        return xp.zeros(queries.shape, dtype=lse.dtype, device=device), xp.zeros(queries.shape, dtype=xp.bool, device=device)
    inside = xp.logical_and(queries >= 0, queries < rows)
    loc = xp.where(inside, queries, xp.zeros_like(queries))
    q_found = xp.logical_and(xp.take(found, loc), inside)
    q_lse = xp.take(lse, loc)
    return xp.where(q_found, q_lse, xp.zeros_like(q_lse)), q_found


def combine_logsumexp(x: Array, x_found: Array, y: Array, y_found: Array) -> Array:
    """``log(exp(x) + exp(y))`` over the parts that are present (0 where neither is).

    >>> import numpy as np
    >>> t, f = np.array([True, True, False, False]), np.array([True, False, True, False])
    >>> combine_logsumexp(np.zeros(4), t, np.zeros(4), f).round(4).tolist()
    [0.6931, 0.0, 0.0, 0.0]
    """
    xp, _ = namespace_and_device(x, y)
    zero = xp.zeros_like(x)
    both = xp.logical_and(x_found, y_found)
    one_part = xp.where(x_found, x, xp.where(y_found, y, zero))
    return xp.where(both, xp.logaddexp(x, y), one_part)
