"""ContrastiveLoss: hinge on positive pairs beyond ``pos_margin`` and negatives within ``neg_margin``."""

from __future__ import annotations

from typing import Any

from ..distances import BaseDistance
from ..reducers import AvgNonZeroReducer, BaseReducer
from ._math import relu
from .generic_pair import GenericPairLoss

Array = Any


def contrastive_pos_loss(pair_dist: Array, margin: float, distance: BaseDistance) -> Array:
    """Per positive pair: ``relu(d - margin)`` for a distance, ``relu(margin - s)`` for a similarity.

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.distances import LpDistance
    >>> contrastive_pos_loss(np.array([0.5, 0.1]), 0.2, LpDistance()).round(4).tolist()
    [0.3, 0.0]
    """
    return relu(distance.margin(pair_dist, margin))


def contrastive_neg_loss(pair_dist: Array, margin: float, distance: BaseDistance) -> Array:
    """Per negative pair: ``relu(margin - d)`` for a distance, ``relu(s - margin)`` for a similarity.

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.distances import LpDistance
    >>> contrastive_neg_loss(np.array([0.25, 2.0]), 1.0, LpDistance()).tolist()
    [0.75, 0.0]
    """
    return relu(distance.margin(margin, pair_dist))


class ContrastiveLoss(GenericPairLoss):
    """Contrastive loss (Hadsell et al. 2006), PML's ``ContrastiveLoss(pos_margin=0, neg_margin=1)``.

    Two sub-losses, reduced separately (default reducer :class:`AvgNonZeroReducer` for each):
    ``pos_loss[k] = relu(d(a1_k, p_k) - pos_margin)`` and
    ``neg_loss[k] = relu(neg_margin - d(a2_k, n_k))`` (signs flipped for similarities).
    The pairs come from ``indices_tuple`` (pairs or triplets) or are all pairs.

    Parameters
    ----------
    pos_margin, neg_margin : float
        Negative values are legal (PML): ``pos_margin < 0`` makes every positive pair
        count, ``neg_margin < 0`` no negative pair.
    **kwargs
        ``distance``, ``reducer``, ``embedding_regularizer``, ``embedding_reg_weight``,
        ``collect_stats`` (see :class:`BaseMetricLossFunction`).

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.losses import ContrastiveLoss
    >>> emb = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-0.6, 0.8]])
    >>> round(float(ContrastiveLoss()(emb, [0, 0, 1, 1])), 4)
    0.738
    """

    def __init__(self, pos_margin: float = 0, neg_margin: float = 1, **kwargs: Any) -> None:
        super().__init__(mat_based_loss=False, **kwargs)
        self.pos_margin = pos_margin
        self.neg_margin = neg_margin

    def _compute_loss(self, pos_pair_dist: Array, neg_pair_dist: Array, indices_tuple: tuple[Array, ...]) -> dict:
        pos_loss = self.get_per_pair_loss(pos_pair_dist, "pos")
        neg_loss = self.get_per_pair_loss(neg_pair_dist, "neg")
        a1, p, a2, n = indices_tuple
        return {
            "pos_loss": {"losses": pos_loss, "indices": (a1, p), "reduction_type": "pos_pair"},
            "neg_loss": {"losses": neg_loss, "indices": (a2, n), "reduction_type": "neg_pair"},
        }

    # PML's per-pair hooks (subclasses such as SNR-contrastive and users override these).
    def get_per_pair_loss(self, pair_dists: Array, pos_or_neg: str) -> Array:
        if pos_or_neg == "pos":
            return self.pos_calc(pair_dists, self.pos_margin)
        return self.neg_calc(pair_dists, self.neg_margin)

    def pos_calc(self, pos_pair_dist: Array, margin: float) -> Array:
        return contrastive_pos_loss(pos_pair_dist, margin, self.distance)

    def neg_calc(self, neg_pair_dist: Array, margin: float) -> Array:
        return contrastive_neg_loss(neg_pair_dist, margin, self.distance)

    def get_default_reducer(self) -> BaseReducer:
        return AvgNonZeroReducer()

    def _sub_loss_names(self) -> list[str]:
        return ["pos_loss", "neg_loss"]
