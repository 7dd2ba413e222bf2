"""PairMarginMiner: positive pairs that are too far, negative pairs that are too close."""

from __future__ import annotations

from .._array_api import empty_indices, namespace_and_device, nonzero_2d
from .._typing import Array
from ..distances import BaseDistance
from .._validate import check_real
from ._pair_mining import masked_mean, matrix_and_masks
from .base import BaseMiner


class PairMarginMiner(BaseMiner):
    """Pairs that violate a margin (PML's ``PairMarginMiner``).

    For a distance ``d`` it keeps positive pairs with ``d(a, p) > pos_margin`` and
    negative pairs with ``d(a, n) < neg_margin``; for a similarity ``s``
    (``distance.is_inverted``) positive pairs with ``s(a, p) < pos_margin`` and negative
    pairs with ``s(a, n) > neg_margin``. All inequalities are strict, as in PML.
    Comparisons are made in the matrix dtype (the margins are rounded to it, as torch and
    NumPy do with Python scalars).

    Output: pairs ``(a1, p, a2, n)`` in row-major order (anchor, then reference index),
    like PML. Without a separate reference set an anchor is never its own positive.

    Parameters
    ----------
    pos_margin, neg_margin : float, default 0.2, 0.8
        Finite numbers; negative values are legal (as in PML): on a distance, a negative
        ``pos_margin`` selects every positive pair and a negative ``neg_margin`` none of
        the negative pairs.
    collect_stats : bool, default False
        Record ``pos_pair_dist`` / ``neg_pair_dist``: the mean value over *all* positive /
        negative pairs before filtering (0 when there are none), as 0-D arrays.
    distance : BaseDistance, optional
        Default ``LpDistance()`` (normalised Euclidean).

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.miners import PairMarginMiner
    >>> emb = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.1]])
    >>> [x.tolist() for x in PairMarginMiner()(emb, [0, 0, 1])]
    [[0, 1], [1, 0], [0, 2], [2, 0]]
    """

    def __init__(
        self,
        pos_margin: float = 0.2,
        neg_margin: float = 0.8,
        *,
        collect_stats: bool = False,
        distance: BaseDistance | None = None,
    ) -> None:
        super().__init__(collect_stats=collect_stats, distance=distance)
        # Negative margins are legal, as in PML: on a distance, pos_margin < 0 selects every
        # positive pair and neg_margin < 0 no negative pair.
        self.pos_margin = check_real(pos_margin, "pos_margin")
        self.neg_margin = check_real(neg_margin, "neg_margin")

    def mine(self, embeddings: Array, labels: Array, ref_emb: Array, ref_labels: Array) -> tuple[Array, ...]:
        xp, device = namespace_and_device(embeddings)
        if embeddings.shape[0] == 0 or ref_emb.shape[0] == 0:
            return empty_indices(4, xp=xp, device=device)
        mat, pos, neg = matrix_and_masks(self.distance, embeddings, labels, ref_emb, ref_labels, xp=xp, device=device)
        if self.distance.is_inverted:
            keep_pos = xp.logical_and(pos, mat < self.pos_margin)
            keep_neg = xp.logical_and(neg, mat > self.neg_margin)
        else:
            keep_pos = xp.logical_and(pos, mat > self.pos_margin)
            keep_neg = xp.logical_and(neg, mat < self.neg_margin)
        if self.collect_stats:
            self.record(pos_pair_dist=masked_mean(mat, pos, xp=xp), neg_pair_dist=masked_mean(mat, neg, xp=xp))
        a1, p = nonzero_2d(keep_pos, xp=xp)
        a2, n = nonzero_2d(keep_neg, xp=xp)
        return a1, p, a2, n

    def __repr__(self) -> str:
        return f"PairMarginMiner(pos_margin={self.pos_margin}, neg_margin={self.neg_margin})"
