"""Shared pieces of the OML miners (open-metric-learning 4.0 semantics).

OML's miners return *embeddings* ``(anchor, positive, negative)`` from ``sample(features,
labels)``; ours follow PML's call contract and return *indices*. The helpers here give
both: the rank decoding that turns per-anchor counts into index triplets without
materialising any ``N x R x R`` array, the OML default distance, and the gather that
builds OML's embedding triplets from indices.

Rank decoding
-------------
Every miner here produces, for each anchor ``a``, the cartesian product of ``u_a``
positives and ``v_a`` negatives (positive-major). Numbering all triplets ``0 .. T-1``
(``T = sum_a u_a v_a``) in that order, rank ``t`` belongs to the anchor ``a`` with
``C[a-1] <= t < C[a]`` (``C`` the inclusive cumulative sum of ``u * v``), and
``r = t - C[a-1]`` splits into the positive rank ``r // v_a`` and the negative rank
``r % v_a``. So any subset of ranks (all of them, or a uniform random sample) is
decoded in ``O(N + len(ranks))`` memory.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from .._array_api import index_dtype, namespace_and_device, take_rows, to_numpy
from .._typing import Array
from ..distances import BaseDistance, LpDistance


def oml_distance() -> LpDistance:
    """OML's distance: Euclidean on the raw (un-normalised) features (``torch.cdist(p=2)``)."""
    return LpDistance(normalize_embeddings=False)


def check_distance(distance: Any) -> BaseDistance:
    """``distance`` or OML's default; a clear TypeError for anything else."""
    if distance is None:
        return oml_distance()
    if not isinstance(distance, BaseDistance):
        raise TypeError(
            f"distance must be an agnostic_ml.distances.BaseDistance, got {type(distance).__name__}"
        )
    return distance


def hardness(mat: Array, distance: BaseDistance) -> Array:
    """Larger = farther: the distance itself, or minus a similarity."""
    return -mat if distance.is_inverted else mat


def total_of(cum: Array) -> int:
    """Last entry of an inclusive cumulative sum, as a Python int (one host sync)."""
    if cum.shape[0] == 0:
        return 0
    return int(to_numpy(cum[-1:])[0])


def decode_product_ranks(ranks: Array, u: Array, v: Array, *, xp: Any) -> tuple[Array, Array, Array]:
    """Decode global ranks of per-anchor ``u_a x v_a`` products into ``(a, i, j)``.

    ``u`` and ``v`` are the per-anchor numbers of selected positives and negatives
    (integer arrays of the indexing dtype), ``ranks`` sorted or not, each in
    ``[0, sum(u * v))``. Returns the anchor, the positive rank ``i < u_a`` and the
    negative rank ``j < v_a`` of each rank (positive-major order).
    """
    c = u * v
    cum = xp.cumulative_sum(c)
    a = xp.searchsorted(cum, ranks, side="right")
    a = xp.astype(a, ranks.dtype)
    start = xp.take(cum - c, a)
    r = ranks - start
    va = xp.take(v, a)
    return a, r // va, r % va


class LabelGroups(NamedTuple):
    """Reference labels sorted into groups (stable, so each group is in index order)."""

    order: Array  # (R,) reference indices sorted by label
    sorted_labels: Array  # (R,)
    group_key: Array  # (R,) grp * (R + 1) + (order[s] - position-in-group): non-decreasing
    group_id: Array  # (R,) dense rank of the label at each sorted position


def label_groups(ref_labels: Array, *, xp: Any) -> LabelGroups:
    """Sort reference labels once; see :func:`kth_outside_group` for the key's use."""
    _, device = namespace_and_device(ref_labels)
    idt = index_dtype(xp, device)
    r = ref_labels.shape[0]
    order = xp.astype(xp.argsort(ref_labels, stable=True), idt)
    srl = xp.take(ref_labels, order)
    change = xp.astype(srl[1:] != srl[:-1], idt) if r > 1 else xp.zeros((0,), dtype=idt, device=device)
    gid = xp.cumulative_sum(change, include_initial=True) if r > 0 else xp.zeros((0,), dtype=idt, device=device)
    first = xp.astype(xp.searchsorted(srl, srl, side="left"), idt)
    pos_in_group = xp.arange(r, dtype=idt, device=device) - first
    key = gid * (r + 1) + (order - pos_in_group)
    return LabelGroups(order, srl, key, gid)


def kth_outside_group(k: Array, start: Array, groups: LabelGroups, *, xp: Any) -> Array:
    """The ``k``-th (0-based, ascending) reference index whose label is not the group's.

    The group's members ``m_0 < m_1 < ...`` sit at sorted positions ``start + i``;
    ``b_i = m_i - i`` is non-decreasing, and the k-th non-member is
    ``k + #{i : b_i <= k}``. The count is one global ``searchsorted`` on
    ``group_key = group_id * (R + 1) + b``. Only call it for non-empty groups.
    """
    r = groups.order.shape[0]
    gid = xp.take(groups.group_id, start)
    q = gid * (r + 1) + k
    below = xp.astype(xp.searchsorted(groups.group_key, q, side="right"), k.dtype) - start
    return k + below


def take_triplets(emb: Array, ref: Array, a: Array, p: Array, n: Array, *, xp: Any) -> tuple[Array, Array, Array]:
    """OML's output: the anchor, positive and negative embeddings (differentiable gathers)."""
    return take_rows(emb, a, xp=xp), take_rows(ref, p, xp=xp), take_rows(ref, n, xp=xp)


def to_lists(*arrays: Array) -> tuple[list[int], ...]:
    """Index arrays -> Python int lists (OML's ``TTripletsIds``); an explicit host edge."""
    return tuple(to_numpy(x).astype(np.int64).tolist() for x in arrays)


class OMLTripletCalls:
    """OML's call style for in-batch triplet miners whose indices point into the batch.

    Mixed into :class:`AllTripletsMiner` and :class:`NHardTripletsMiner` (which are
    :class:`BaseMiner` s): ``sample`` returns the gathered embeddings, ``sample_ids`` the
    indices as Python lists, both from the PML-style call ``self(features, labels)``.
    """

    def sample(self, features: Array, labels: Any) -> tuple[Array, Array, Array]:
        """OML's call: the ``(anchor, positive, negative)`` embeddings (differentiable gathers)."""
        xp, _ = namespace_and_device(features)
        a, p, n = self(features, labels)  # type: ignore[operator]
        return take_triplets(features, features, a, p, n, xp=xp)

    def sample_ids(self, features: Array, labels: Any) -> tuple[list[int], list[int], list[int]]:
        """OML's ``_sample``: the triplets as three Python lists of ints."""
        return to_lists(*self(features, labels))  # type: ignore[operator,return-value]
