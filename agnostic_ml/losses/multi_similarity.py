"""MultiSimilarityLoss (Wang et al. 2019): soft weighting of each anchor's positives and negatives."""

from __future__ import annotations

from typing import Any

from .._array_api import index_dtype, namespace_and_device
from ..distances import BaseDistance, CosineSimilarity
from ..tuples import logsumexp
from ._precision import at_least_float32
from .generic_pair import GenericPairLoss

Array = Any


def multi_similarity_losses(
    mat: Array, pos_mask: Array, neg_mask: Array, alpha: float, beta: float, base: float, distance: BaseDistance
) -> Array:
    """Per anchor row ``i``: ``(1/alpha) log(1 + sum_p e^{alpha margin(x_ip, base)}) + (1/beta) log(1 + sum_n e^{beta margin(base, x_in)})``.

    For a similarity: ``(1/alpha) log(1 + sum_p e^{-alpha (s_ip - base)}) + (1/beta) log(1 + sum_n e^{beta (s_in - base)})``
    over row ``i``'s positives/negatives (boolean (N, M) masks). Shifted log-sum-exps in
    float32 at least: ``beta = 50`` cannot overflow. O(N*M) memory.

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.distances import CosineSimilarity
    >>> mat = np.array([[1.0, 0.9, 0.1]])
    >>> pos, neg = np.array([[False, True, False]]), np.array([[False, False, True]])
    >>> multi_similarity_losses(mat, pos, neg, 2.0, 50.0, 0.5, CosineSimilarity()).round(4).tolist()
    [0.1856]
    """
    xp, _ = namespace_and_device(mat)
    mat = at_least_float32(mat)
    pos_exp = distance.margin(mat, base)
    neg_exp = distance.margin(base, mat)
    pos = logsumexp(alpha * pos_exp, keep_mask=pos_mask, add_one=True) * (1.0 / alpha)
    neg = logsumexp(beta * neg_exp, keep_mask=neg_mask, add_one=True) * (1.0 / beta)
    return xp.reshape(pos + neg, (-1,))


class MultiSimilarityLoss(GenericPairLoss):
    """Multi-similarity loss, PML's ``MultiSimilarityLoss(alpha=2, beta=50, base=0.5)``.

    Per anchor, see :func:`multi_similarity_losses`. Default distance
    :class:`CosineSimilarity`, reducer :class:`MeanReducer` (reduction ``"element"``, over
    all N anchors). Mined pairs are a mask: a pair given twice counts once (as in PML).
    O(N*M) memory.

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.losses import MultiSimilarityLoss
    >>> emb = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-0.6, 0.8]])
    >>> round(float(MultiSimilarityLoss()(emb, [0, 0, 1, 1])), 4)
    0.2688
    """

    def __init__(self, alpha: float = 2, beta: float = 50, base: float = 0.5, **kwargs: Any) -> None:
        super().__init__(mat_based_loss=True, **kwargs)
        self.alpha = alpha
        self.beta = beta
        self.base = base

    def get_default_distance(self) -> BaseDistance:
        return CosineSimilarity()

    def _compute_loss(self, mat: Array, pos_mask: Array, neg_mask: Array) -> dict:
        xp, device = namespace_and_device(mat)
        losses = multi_similarity_losses(
            mat, pos_mask != 0, neg_mask != 0, self.alpha, self.beta, self.base, self.distance
        )
        rows = xp.arange(mat.shape[0], dtype=index_dtype(xp, device), device=device)
        return {"loss": {"losses": losses, "indices": rows, "reduction_type": "element"}}
