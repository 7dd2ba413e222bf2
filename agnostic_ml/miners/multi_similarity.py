"""MultiSimilarityMiner: the pair mining step of the Multi-Similarity loss."""

from __future__ import annotations

from .._array_api import empty_indices, namespace_and_device, nonzero_2d
from .._typing import Array
from ..distances import BaseDistance, CosineSimilarity
from .._validate import check_real
from ._pair_mining import extreme, matrix_and_masks
from .base import BaseMiner


class MultiSimilarityMiner(BaseMiner):
    """Informative pairs relative to each anchor's hardest pair of the other kind (PML's).

    With a similarity ``s`` (the default, ``CosineSimilarity``), per anchor ``a``:

    - keep positive ``(a, p)`` if ``s(a, p) - epsilon < max_n s(a, n)``;
    - keep negative ``(a, n)`` if ``s(a, n) + epsilon > min_p s(a, p)``.

    With a distance ``d``: keep ``(a, p)`` if ``d(a, p) + epsilon > min_n d(a, n)`` and
    ``(a, n)`` if ``d(a, n) - epsilon < max_p d(a, p)``. Inequalities are strict and
    computed in the matrix dtype, as in PML. An anchor without positives (or without
    negatives) selects nothing, so a batch without any positive or negative pair gives
    empty outputs.

    PML sorts every row twice to read these thresholds; here they are masked row
    maxima/minima, one pass each, and the result is the same set of pairs. Output order
    is row-major (anchor, then reference index); PML orders each anchor's pairs by value.
    PML also hides the diagonal when ``ref_emb`` *is* ``embeddings`` even with separate
    ``ref_labels``; here the self pair is excluded only without a separate reference set
    (``ref_labels is labels``), the rule every other miner follows.

    Parameters
    ----------
    epsilon : float, default 0.1
        Finite, >= 0.
    collect_stats : bool, default False
        Nothing beyond the pair counts is recorded (as in PML).
    distance : BaseDistance, optional
        Default ``CosineSimilarity()``.

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.miners import MultiSimilarityMiner
    >>> emb = np.array([[1.0, 0.0], [0.6, 0.8], [0.8, 0.6], [0.0, 1.0]])
    >>> [x.tolist() for x in MultiSimilarityMiner()(emb, [0, 0, 1, 1])]
    [[0, 1, 2, 3], [1, 0, 3, 2], [0, 1, 1, 2, 2, 3], [2, 2, 3, 0, 1, 1]]
    """

    def __init__(
        self,
        epsilon: float = 0.1,
        *,
        collect_stats: bool = False,
        distance: BaseDistance | None = None,
    ) -> None:
        super().__init__(collect_stats=collect_stats, distance=distance)
        self.epsilon = check_real(epsilon, "epsilon", nonnegative=True)

    def default_distance(self) -> BaseDistance:
        return CosineSimilarity()

    def mine(self, embeddings: Array, labels: Array, ref_emb: Array, ref_labels: Array) -> tuple[Array, ...]:
        xp, device = namespace_and_device(embeddings)
        if embeddings.shape[0] == 0 or ref_emb.shape[0] == 0:
            return empty_indices(4, xp=xp, device=device)
        mat, pos, neg = matrix_and_masks(self.distance, embeddings, labels, ref_emb, ref_labels, xp=xp, device=device)
        big = extreme(mat, xp=xp, largest=True)
        small = extreme(mat, xp=xp, largest=False)
        eps = self.epsilon
        if self.distance.is_inverted:
            hardest_neg = xp.max(xp.where(neg, mat, small), axis=1, keepdims=True)
            hardest_pos = xp.min(xp.where(pos, mat, big), axis=1, keepdims=True)
            keep_pos = xp.logical_and(pos, (mat - eps) < hardest_neg)
            keep_neg = xp.logical_and(neg, (mat + eps) > hardest_pos)
        else:
            hardest_neg = xp.min(xp.where(neg, mat, big), axis=1, keepdims=True)
            hardest_pos = xp.max(xp.where(pos, mat, small), axis=1, keepdims=True)
            keep_pos = xp.logical_and(pos, (mat + eps) > hardest_neg)
            keep_neg = xp.logical_and(neg, (mat - eps) < hardest_pos)
        a1, p = nonzero_2d(keep_pos, xp=xp)
        a2, n = nonzero_2d(keep_neg, xp=xp)
        return a1, p, a2, n

    def __repr__(self) -> str:
        return f"MultiSimilarityMiner(epsilon={self.epsilon})"
