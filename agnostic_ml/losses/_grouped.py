"""Log-sum-exp over the negative pairs of each anchor, without a (pairs x pairs) matrix.

PML's NTXent, LiftedStructure and TupletMargin losses compare every positive pair with
every negative pair (a ``P x N2`` matrix masked by "same anchor"). Each positive pair only
needs the log-sum-exp of its anchor's negative pairs, so the negative pairs are grouped by
anchor once: O((N2 + P) log N2) time and O(N2 + P) memory, with each pair counted as often
as it occurs in the tuple (a pair mined twice enters its anchor's sum twice, as PML's
duplicated column does).
"""

from __future__ import annotations

from typing import Any

from .._array_api import index_dtype, namespace_and_device, no_grad, weighted_bincount

Array = Any


def grouped_logsumexp(values: Array, groups: Array, queries: Array) -> tuple[Array, Array]:
    """``log(sum_{j: groups[j] == q} exp(values[j]))`` for every ``q`` in ``queries``.

    Returns ``(lse, found)``: ``lse`` has ``queries``' length and ``values``' dtype, and is
    0 where no ``groups[j]`` equals ``q`` (``found`` False there), with a zero gradient.
    Stable for any range of ``values``: each group is shifted by its own maximum (found by
    sorting, outside the autograd graph; the shift does not change the gradient).
    Differentiable in ``values`` on torch.

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
    one = xp.ones_like(q_sums)
    lse = q_shift + xp.log(xp.where(found, q_sums, one))
    return xp.where(found, lse, xp.zeros_like(lse)), found


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
