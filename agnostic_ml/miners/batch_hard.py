"""BatchHardMiner: the hardest positive and hardest negative of every anchor, as triplets."""

from __future__ import annotations

from .._typing import Array
from ..distances import BaseDistance
from .batch_easy_hard import HARD, BatchEasyHardMiner


class BatchHardMiner(BatchEasyHardMiner):
    """One triplet ``(a, p, n)`` per anchor with a positive and a negative (PML's ``BatchHardMiner``).

    ``p = argmax_p d(a, p)`` (hardest positive) and ``n = argmin_n d(a, n)`` (hardest
    negative) for a distance ``d``; ``argmin``/``argmax`` swap for a similarity. This is
    :class:`BatchEasyHardMiner` with ``pos_strategy = neg_strategy = "hard"``, returned as
    triplets in anchor order. Ties go to the lowest reference index.

    Cost: one distance matrix, two masked row reductions and ``nonzero`` over N anchors;
    O(N^2) memory, no index arrays of all pairs (PML scatters those into N x N masks).

    Parameters
    ----------
    allowed_pos_range, allowed_neg_range : (float, float) or None
        Inclusive value ranges for the candidates (as in :class:`BatchEasyHardMiner`).
    collect_stats : bool, default False
        Record ``easiest_triplet``, ``hardest_triplet``, ``easiest_pos_pair``,
        ``hardest_pos_pair``, ``easiest_neg_pair``, ``hardest_neg_pair`` (0-D arrays).
    distance : BaseDistance, optional
        Default ``LpDistance()``.

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.miners import BatchHardMiner
    >>> emb = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-0.6, 0.8]])
    >>> [x.tolist() for x in BatchHardMiner()(emb, [0, 0, 1, 1])]
    [[0, 1, 2, 3], [1, 0, 3, 2], [2, 2, 1, 1]]
    """

    def __init__(
        self,
        allowed_pos_range: tuple[float, float] | None = None,
        allowed_neg_range: tuple[float, float] | None = None,
        *,
        collect_stats: bool = False,
        distance: BaseDistance | None = None,
    ) -> None:
        super().__init__(
            pos_strategy=HARD,
            neg_strategy=HARD,
            allowed_pos_range=allowed_pos_range,
            allowed_neg_range=allowed_neg_range,
            collect_stats=collect_stats,
            distance=distance,
        )

    def mine(self, embeddings: Array, labels: Array, ref_emb: Array, ref_labels: Array) -> tuple[Array, ...]:
        a, p, _, n = self._mine_pairs(embeddings, labels, ref_emb, ref_labels)
        return a, p, n

    def __repr__(self) -> str:
        return f"BatchHardMiner(allowed_pos_range={self.allowed_pos_range}, allowed_neg_range={self.allowed_neg_range})"
