"""IntraPairVarianceLoss (Yu et al. 2019): keep each pair's similarity close to the mean of its kind."""

from __future__ import annotations

from typing import Any

from .._array_api import namespace_and_device
from ..distances import BaseDistance, CosineSimilarity
from ..tuples import neg_pairs_from_tuple, pos_pairs_from_tuple
from ._math import relu
from ._precision import at_least_float32
from .generic_pair import GenericPairLoss

Array = Any


def variance_with_eps(pairs: Array, mean_sim: Array, eps: float, incentivize_increase: bool) -> Array:
    """The signed deviation of each pair: ``(1 - eps) * mean - x`` or ``x - (1 + eps) * mean``.

    ``incentivize_increase`` is True for the pairs whose value should grow (positive pairs
    of a similarity, negative pairs of a distance).
    """
    if incentivize_increase:
        return (1 - eps) * mean_sim - pairs
    return pairs - (1 + eps) * mean_sim


def intra_pair_variance_losses(pairs: Array, eps: float, incentivize_increase: bool) -> Array:
    """Per pair: ``relu((1 - eps) * mean - x)**2`` (``incentivize_increase``) or ``relu(x - (1 + eps) * mean)**2``.

    ``mean`` is the mean of ``pairs`` (the gradient flows through it too). For
    similarities, positive pairs use ``incentivize_increase=True`` and negative pairs
    ``False``; for distances the other way round. O(len(pairs)).

    Examples
    --------
    >>> import numpy as np
    >>> intra_pair_variance_losses(np.array([0.2, 0.8]), 0.0, True).round(4).tolist()
    [0.09, 0.0]
    """
    xp, _ = namespace_and_device(pairs)
    pairs = at_least_float32(pairs)
    return relu(variance_with_eps(pairs, xp.mean(pairs), eps, incentivize_increase)) ** 2


class IntraPairVarianceLoss(GenericPairLoss):
    """Intra-pair variance loss, PML's ``IntraPairVarianceLoss(pos_eps=0.01, neg_eps=0.01)``.

    Two sub-losses, each reduced by its own reducer (default :class:`MeanReducer`):
    ``pos_loss`` per positive pair ``relu((1 - pos_eps) * mean(s_p) - s_p)**2`` and
    ``neg_loss`` per negative pair ``relu(s_n - (1 + neg_eps) * mean(s_n))**2`` (the roles
    swap for a distance), see :func:`intra_pair_variance_losses`. Pairs come from
    ``indices_tuple`` in tuple order (a pair listed twice counts twice) or are all pairs.
    Default distance :class:`CosineSimilarity`. O(N*M + P + N2) memory.

    PML's hook ``variance_with_eps(pairs, mean_sim, eps, incentivize_increase)`` is kept.

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.losses import IntraPairVarianceLoss
    >>> emb = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-0.6, 0.8], [0.6, 0.8]])
    >>> round(float(IntraPairVarianceLoss(pos_eps=0.1)(emb, [0, 0, 1, 1, 0])), 4)
    0.0975
    """

    def __init__(self, pos_eps: float = 0.01, neg_eps: float = 0.01, **kwargs: Any) -> None:
        super().__init__(mat_based_loss=False, **kwargs)
        self.pos_eps = pos_eps
        self.neg_eps = neg_eps

    def get_default_distance(self) -> BaseDistance:
        return CosineSimilarity()

    def _sub_loss_names(self) -> list[str]:
        return ["pos_loss", "neg_loss"]

    def _compute_loss(self, pos_pairs: Array, neg_pairs: Array, indices_tuple: tuple[Array, ...]) -> dict:
        pos_loss: Any = 0
        neg_loss: Any = 0
        inverted = self.distance.is_inverted
        if pos_pairs.shape[0] > 0:
            pos_loss = self._per_pair(pos_pairs, self.pos_eps, inverted)
        if neg_pairs.shape[0] > 0:
            neg_loss = self._per_pair(neg_pairs, self.neg_eps, not inverted)
        return {
            "pos_loss": {"losses": pos_loss, "indices": pos_pairs_from_tuple(indices_tuple), "reduction_type": "pos_pair"},
            "neg_loss": {"losses": neg_loss, "indices": neg_pairs_from_tuple(indices_tuple), "reduction_type": "neg_pair"},
        }

    def _per_pair(self, pairs: Array, eps: float, incentivize_increase: bool) -> Array:
        # intra_pair_variance_losses through PML's hook, so that a subclass's override is used.
        xp, _ = namespace_and_device(pairs)
        pairs = at_least_float32(pairs)
        return relu(self.variance_with_eps(pairs, xp.mean(pairs), eps, incentivize_increase)) ** 2

    def variance_with_eps(self, pairs: Array, mean_sim: Array, eps: float, incentivize_increase: bool) -> Array:
        """PML's hook: the signed deviation whose ``relu(.)**2`` is the loss of each pair."""
        return variance_with_eps(pairs, mean_sim, eps, incentivize_increase)
