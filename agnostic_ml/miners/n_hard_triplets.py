"""NHardTripletsMiner: the n hardest positives x the n hardest negatives per anchor (OML 4.0)."""

from __future__ import annotations

import math
from typing import Any, Sequence, Union

from .._array_api import empty_indices, index_dtype, namespace_and_device, topk
from .._label_masks import label_masks
from .._typing import Array
from .._validate import is_int
from ..distances import BaseDistance
from ._oml import (
    OMLTripletCalls,
    check_distance,
    decode_product_ranks,
    hardness,
    total_of,
)
from .base import BaseMiner

NSpec = Union[int, Sequence[int]]


def parse_n(value: Any, name: str) -> tuple[int, int]:
    """OML's ``n_positive`` / ``n_negative`` -> a 0-based half-open rank slice ``(start, stop)``.

    An int ``n >= 1`` keeps the ``n`` hardest (ranks ``1..n``); a pair ``(lo, hi)`` with
    ``1 <= lo <= hi`` keeps the ``lo``-th to the ``hi``-th hardest, both inclusive (1-based).
    """
    if is_int(value):
        if int(value) < 1:
            raise ValueError(f"{name} must be >= 1 (the number of hardest samples to keep), got {value}")
        return 0, int(value)
    if isinstance(value, (tuple, list)):
        if len(value) != 2 or not all(is_int(v) for v in value):
            raise TypeError(f"{name} as a range must be a pair of ints (lo, hi), got {value!r}")
        lo, hi = int(value[0]), int(value[1])
        if lo < 1 or hi < lo:
            raise ValueError(f"{name} range (lo, hi) needs 1 <= lo <= hi (1-based, inclusive), got {value!r}")
        return lo - 1, hi
    raise TypeError(f"{name} must be an int or a (lo, hi) pair of ints, got {type(value).__name__} {value!r}")


def nhard_triplets(
    mat: Array,
    pos_mask: Array,
    neg_mask: Array,
    pos_slice: tuple[int, int],
    neg_slice: tuple[int, int],
    distance: BaseDistance,
) -> tuple[Array, Array, Array]:
    """Per anchor row: the ranked positives in ``pos_slice`` x the ranked negatives in ``neg_slice``.

    ``mat`` is the ``(N, R)`` distance (or similarity) matrix; ``pos_mask`` / ``neg_mask`` the
    valid candidates (self already removed). Positives are ranked hardest first = farthest
    (largest distance / smallest similarity), negatives hardest first = closest; ties go to
    the lower reference index. Output order: anchors ascending, then positive rank, then
    negative rank. Memory ``O(N R + output)``.
    """
    xp, device = namespace_and_device(mat)
    idt = index_dtype(xp, device)
    n, r = mat.shape
    if n == 0 or r == 0:
        return empty_indices(3, xp=xp, device=device)
    h = hardness(mat, distance)
    inf = xp.asarray(math.inf, dtype=h.dtype, device=device)
    (sp, ep), (sn, en) = pos_slice, neg_slice
    kp, kn = min(ep, r), min(en, r)
    if kp <= sp or kn <= sn:
        return empty_indices(3, xp=xp, device=device)
    _, pidx = topk(xp.where(pos_mask, h, -inf), kp, largest=True, xp=xp)
    _, nidx = topk(xp.where(neg_mask, h, inf), kn, largest=False, xp=xp)
    zero = xp.zeros((), dtype=idt, device=device)
    n_pos = xp.sum(xp.astype(pos_mask, idt), axis=1)
    n_neg = xp.sum(xp.astype(neg_mask, idt), axis=1)
    u = xp.maximum(xp.minimum(n_pos, kp) - sp, zero)
    v = xp.maximum(xp.minimum(n_neg, kn) - sn, zero)
    total = total_of(xp.cumulative_sum(u * v))
    if total == 0:
        return empty_indices(3, xp=xp, device=device)
    ranks = xp.arange(total, dtype=idt, device=device)
    a, i, j = decode_product_ranks(ranks, u, v, xp=xp)
    p = xp.take(xp.reshape(xp.astype(pidx, idt), (-1,)), a * kp + (i + sp))
    neg = xp.take(xp.reshape(xp.astype(nidx, idt), (-1,)), a * kn + (j + sn))
    return a, p, neg


class NHardTripletsMiner(OMLTripletCalls, BaseMiner):
    """Hard triplets: per anchor, the chosen hardest positives x the chosen hardest negatives.

    OML's ``NHardTripletsMiner(n_positive=1, n_negative=1)``. For each anchor, positives
    (same label, not the anchor itself) are ranked by *decreasing* distance and negatives
    (other labels) by *increasing* distance (hardest first, ties: lower index first); the
    miner returns the cartesian product of the selected positive ranks and negative ranks.

    ``n_positive`` / ``n_negative``:

    - an int ``n`` keeps the ``n`` hardest (ranks 1..n);
    - a pair ``(lo, hi)`` keeps the ``lo``-th to ``hi``-th hardest, inclusive and 1-based,
      e.g. ``(2, 5)`` skips the single hardest positive (likely label noise) and keeps the
      next four.

    Anchors with fewer candidates than ``lo`` contribute nothing (OML raises an unpacking
    error there), and anchors with fewer than ``hi`` keep what they have. With ``(1, 1)``
    this is :class:`HardTripletsMiner`; with large enough values it is
    :class:`AllTripletsMiner` (as a set).

    Distance: OML's Euclidean on the raw features, ``LpDistance(normalize_embeddings=False)``
    (PML's miners default to the *normalised* Euclidean distance); pass ``distance=`` for
    another one (similarities are ranked the other way round). Memory ``O(N R + output)``.

    Call contract: PML's ``miner(embeddings, labels, ref_emb=None, ref_labels=None)`` ->
    ``(a, p, n)`` index arrays (see :class:`BaseMiner`); OML's ``sample`` returns the
    embeddings. Output order: anchors ascending, positive-major.

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.miners import NHardTripletsMiner
    >>> x = np.array([[0.0], [1.0], [3.0], [10.0], [4.0], [20.0]])
    >>> a, p, n = NHardTripletsMiner(n_positive=2, n_negative=(1, 2))(x, [0, 0, 0, 1, 1, 1])
    >>> [t for t in zip(a.tolist(), p.tolist(), n.tolist()) if t[0] == 0]
    [(0, 2, 4), (0, 2, 3), (0, 1, 4), (0, 1, 3)]
    """

    def __init__(
        self,
        n_positive: NSpec = 1,
        n_negative: NSpec = 1,
        *,
        distance: BaseDistance | None = None,
        collect_stats: bool = False,
    ) -> None:
        super().__init__(collect_stats=collect_stats, distance=check_distance(distance))
        self.positive_slice = parse_n(n_positive, "n_positive")
        self.negative_slice = parse_n(n_negative, "n_negative")
        self.n_positive = n_positive
        self.n_negative = n_negative

    def mine(self, embeddings: Array, labels: Array, ref_emb: Array, ref_labels: Array) -> tuple[Array, Array, Array]:
        exclude_self = ref_labels is labels
        mat = self.distance(embeddings, None if exclude_self else ref_emb)
        return self.mine_from_matrix(mat, labels, ref_labels, exclude_self=exclude_self)

    def mine_from_matrix(
        self, mat: Array, labels: Array, ref_labels: Array, *, exclude_self: bool
    ) -> tuple[Array, Array, Array]:
        """Mine from a precomputed ``(N, R)`` matrix of this miner's distance.

        ``exclude_self`` removes the diagonal ``(i, i)`` from the positives (for a
        reference set whose first ``N`` rows are the batch, as in :class:`MinerWithBank`).
        """
        pos, neg = label_masks(labels, ref_labels, exclude_self=exclude_self)
        return nhard_triplets(mat, pos, neg, self.positive_slice, self.negative_slice, self.distance)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n_positive={self.n_positive!r}, n_negative={self.n_negative!r})"


__all__ = ["NHardTripletsMiner", "parse_n", "nhard_triplets", "label_masks"]
