"""TripletMarginMiner: triplets selected by their margin, without an N^3 tensor."""

from __future__ import annotations

import math
from typing import Any

from .._array_api import floating_work_dtype, namespace_and_device, to_numpy
from .._budget import DEFAULT_OUTPUT_BUDGET, check_output_budget, check_output_size
from .._label_masks import label_masks
from .._typing import Array
from .._validate import check_choice, is_real
from ..distances import BaseDistance
from ._triplet_blocks import anchor_block_rows, emit_triplets, iter_triplet_blocks
from .base import BaseMiner

TYPES_OF_TRIPLETS = ("all", "hard", "semihard", "easy")


class TripletMarginMiner(BaseMiner):
    """Triplets ``(a, p, n)`` selected by their margin (PML's ``TripletMarginMiner``).

    With ``m = d_an - d_ap`` for distances (``s_ap - s_an`` for similarities, i.e.
    ``distance.margin(d_an, d_ap)``), computed in the distance matrix's dtype exactly as
    PML computes it, a triplet (a positive and a negative of the anchor) is kept when

    ============  =================================
    ``"all"``     ``m <= margin``
    ``"hard"``    ``m <= margin`` and ``m <= 0``
    ``"semihard"``  ``0 < m <= margin``
    ``"easy"``    ``m > margin``
    ============  =================================

    Without ``ref_emb`` an anchor is never its own positive.

    Algorithm: for a fixed ``(a, p)`` each condition is monotone in ``d_an``, so the kept
    negatives are an interval of the anchor's negatives sorted by distance. Each row is
    sorted once, intervals are found by binary search and triplets are written out
    directly: ``O(N R log R + P log R + T)`` time and ``O(N R + T)`` memory (``P``
    positive pairs, ``T`` output triplets); PML builds an ``N x R x R`` uint8 tensor.

    Differences from PML 2.9
    ------------------------
    - An unknown ``type_of_triplets`` raises ``ValueError`` (PML silently treats it as
      ``"all"``); ``margin`` must be a finite real number.
    - Non-finite embeddings raise ``ValueError`` (the library's policy, see :class:`BaseMiner`),
      and so does a distance matrix that overflowed from finite inputs, instead of silently
      dropping the affected triplets.
    - The number of triplets is counted before any is written: more than ``output_budget``
      raise :class:`agnostic_ml.OutputTooLargeError` (PML's ``"all"`` on N = 2000 of two
      classes would need 2e9 triplets, 48 GB).
    - The *set* of triplets is PML's; the order differs: triplets are grouped by
      ``(a, p)`` in lexicographic order like PML, but within a group the negatives come
      nearest first (by distance; most similar first for similarities) instead of by
      index. Sort the output if you need PML's exact order.
    - Stats (``collect_stats=True``): ``pos_pair_dist``, ``neg_pair_dist`` and
      ``avg_triplet_margin`` are the means over *all* triplets, as in PML, computed from
      row sums without enumerating them; 0-D arrays, and 0 (not NaN) when there is none.

    Parameters
    ----------
    margin : float, default 0.2
    type_of_triplets : {"all", "hard", "semihard", "easy"}, default "all"
    distance : BaseDistance, optional
        Default ``LpDistance()`` (normalised Euclidean). Similarities (``is_inverted``) work.
    collect_stats : bool, default False
    output_budget : int or None, default :data:`agnostic_ml.DEFAULT_OUTPUT_BUDGET` (2**28)
        The most triplets a call may return; None: no limit.

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.miners import TripletMarginMiner
    >>> from agnostic_ml.distances import LpDistance
    >>> emb = np.array([[0.0], [0.1], [0.5], [0.2]])
    >>> miner = TripletMarginMiner(margin=0.15, distance=LpDistance(normalize_embeddings=False))
    >>> [t.tolist() for t in miner(emb, [0, 0, 1, 1])]
    [[0, 1, 2, 3, 3], [1, 0, 3, 2, 2], [3, 3, 1, 1, 0]]
    """

    def __init__(
        self,
        margin: float = 0.2,
        type_of_triplets: str = "all",
        collect_stats: bool = False,
        distance: BaseDistance | None = None,
        output_budget: int | None = DEFAULT_OUTPUT_BUDGET,
    ) -> None:
        super().__init__(collect_stats=collect_stats, distance=distance)
        self.output_budget = check_output_budget(output_budget)
        if not is_real(margin) or not math.isfinite(margin):
            raise ValueError(f"margin must be a finite real number, got {margin!r}")
        check_choice(type_of_triplets, "type_of_triplets", TYPES_OF_TRIPLETS)
        self.margin = float(margin)
        self.type_of_triplets = type_of_triplets

    def mine(self, embeddings: Array, labels: Array, ref_emb: Array, ref_labels: Array) -> tuple[Array, Array, Array]:
        xp, device = namespace_and_device(embeddings)
        mat = self.distance(embeddings, ref_emb)
        _check_finite(xp, distance_matrix=mat)  # the inputs were checked by BaseMiner.forward; this catches overflow
        exclude_self = ref_labels is labels
        dist = self.distance
        margin = xp.asarray(self.margin, dtype=mat.dtype, device=device)
        zero = xp.asarray(0.0, dtype=mat.dtype, device=device)
        hard_cap = xp.minimum(margin, zero)
        kind = self.type_of_triplets

        def bounds(x: Array, search: Any, n_neg: Array) -> tuple[Array, Array]:
            start = xp.zeros_like(n_neg)
            if kind == "all":
                return start, search(lambda v, ap: dist.margin(v, ap) <= margin)
            if kind == "hard":  # m <= margin and m <= 0  <=>  m <= min(margin, 0)
                return start, search(lambda v, ap: dist.margin(v, ap) <= hard_cap)
            k_margin = search(lambda v, ap: dist.margin(v, ap) <= margin)
            if kind == "easy":
                return k_margin, n_neg - k_margin
            k_zero = search(lambda v, ap: dist.margin(v, ap) <= zero)  # semihard: 0 < m <= margin
            return k_zero, xp.maximum(k_margin - k_zero, xp.zeros_like(k_zero))

        blocks = list(
            iter_triplet_blocks(mat, labels, ref_labels, exclude_self=exclude_self, bounds=bounds, inverted=dist.is_inverted)
        )
        check_output_size(
            sum(b.total for b in blocks), self.output_budget, where="TripletMarginMiner", what="triplets",
            way_out="use a smaller margin, type_of_triplets='hard' or 'semihard', or a smaller batch",
        )
        if self.collect_stats:
            self._record_stats(mat, labels, ref_labels, exclude_self, xp, device)
        return emit_triplets(blocks, xp=xp, device=device)

    def _record_stats(self, mat: Array, labels: Array, ref_labels: Array, exclude_self: bool, xp: Any, device: Any) -> None:
        """PML's means over all triplets, from per-row sums: ``O(N R)``."""
        work = floating_work_dtype(mat.dtype, xp=xp)  # float16 sums would overflow
        mat = mat if mat.dtype == work else xp.astype(mat, work)
        n, r = mat.shape
        s_ap = xp.asarray(0.0, dtype=mat.dtype, device=device)
        s_an = xp.asarray(0.0, dtype=mat.dtype, device=device)
        t_all = xp.asarray(0.0, dtype=mat.dtype, device=device)
        rows = anchor_block_rows(r)
        for start in range(0, n, rows):
            stop = min(start + rows, n)
            pos, neg = label_masks(labels, ref_labels, exclude_self=exclude_self, start=start, stop=stop, xp=xp, device=device)
            block = mat[start:stop, ...]
            z = xp.zeros_like(block)
            n_pos = xp.sum(xp.astype(pos, mat.dtype), axis=1)
            n_neg = xp.sum(xp.astype(neg, mat.dtype), axis=1)
            s_ap = s_ap + xp.sum(xp.sum(xp.where(pos, block, z), axis=1) * n_neg)
            s_an = s_an + xp.sum(xp.sum(xp.where(neg, block, z), axis=1) * n_pos)
            t_all = t_all + xp.sum(n_pos * n_neg)
        denom = xp.maximum(t_all, xp.asarray(1.0, dtype=mat.dtype, device=device))
        ap, an = s_ap / denom, s_an / denom
        self.record(pos_pair_dist=ap, neg_pair_dist=an, avg_triplet_margin=self.distance.margin(an, ap))

    def __repr__(self) -> str:
        return f"TripletMarginMiner(margin={self.margin}, type_of_triplets={self.type_of_triplets!r}, distance={self.distance!r})"


def _check_finite(xp: Any, **arrays: Array) -> None:
    """Raise ``ValueError`` naming the first non-finite input (one host sync for all).

    The matrix is checked too: the sort relies on finite values, and a finite input can
    still overflow (e.g. float32 embeddings near 1e19 without normalisation).
    """
    names = [k for k, v in arrays.items() if v is not None and v.shape[0] > 0 and (v.ndim < 2 or v.shape[1] > 0)]
    if not names:
        return
    flags = to_numpy(xp.stack([xp.all(xp.isfinite(arrays[k])) for k in names]))
    for name, ok in zip(names, flags.tolist()):
        if not ok:
            what = "values" if name != "distance_matrix" else "distances (overflow?)"
            raise ValueError(f"{name} contains NaN or inf {what}; embeddings must be finite")
