"""GenericPairLoss: the base of losses defined on positive and negative pairs (PML's)."""

from __future__ import annotations

from typing import Any

from .._array_api import namespace_and_device, to_numpy
from .._budget import DEFAULT_OUTPUT_BUDGET
from ..tuples import convert_to_pairs
from ._math import gather_pairs, pair_mask
from .base import BaseMetricLossFunction

Array = Any


def labels_or_indices_tuple_required(labels: Any, indices_tuple: Any, owner: str) -> None:
    if labels is None and indices_tuple is None:
        raise ValueError(f"{owner} needs labels or an indices_tuple; both are None")


def tuple_pairs(loss: Any, embeddings: Array, labels: Array, indices_tuple: Any, ref_emb: Array, ref_labels: Array):
    """The pairs ``(a1, p, a2, n)`` a pair loss works on: the miner's (triplets become pairs) or all pairs."""
    owner = type(loss).__name__
    labels_or_indices_tuple_required(labels, indices_tuple, owner)
    if indices_tuple is None and ref_emb is not embeddings and ref_labels is None:
        raise ValueError(f"{owner}: ref_emb was given without ref_labels; pass ref_labels (or an indices_tuple)")
    return convert_to_pairs(
        indices_tuple, labels, ref_labels, like=embeddings, output_budget=getattr(loss, "output_budget", DEFAULT_OUTPUT_BUDGET)
    )


class GenericPairLoss(BaseMetricLossFunction):
    """Base of pair losses: PML's ``GenericPairLoss(mat_based_loss, **kwargs)``.

    ``compute_loss`` turns the miner's tuple into pairs (triplets ``(a, p, n)`` become
    ``(a, p, a, n)``; no tuple means all pairs), computes the distance matrix once and calls
    ``_compute_loss``:

    - ``mat_based_loss=True``: ``_compute_loss(mat, pos_mask, neg_mask)`` with float 0/1
      masks of the positive and negative pairs (a pair given twice counts once, as in PML);
    - ``mat_based_loss=False``: ``_compute_loss(pos_pair_dist, neg_pair_dist, indices_tuple)``
      with the matrix values of the pairs, in tuple order.

    A tuple with no pair gives the zero loss. (PML also returns zero when there is at most
    one positive and one negative pair, ``all(len(x) <= 1)``; here one pair is a loss.)
    A pair that is both positive and negative raises ``ValueError``.

    Examples
    --------
    A pair loss of your own: the mean distance of the positive pairs (``"pos_pair"``
    losses are reduced over the pairs ``(a1, p)``):

    >>> import numpy as np
    >>> from agnostic_ml.losses import GenericPairLoss
    >>> from agnostic_ml.miners import BatchHardMiner
    >>> class PositiveDistanceLoss(GenericPairLoss):
    ...     def __init__(self, **kwargs):
    ...         super().__init__(mat_based_loss=False, **kwargs)
    ...     def _compute_loss(self, pos_pair_dist, neg_pair_dist, indices_tuple):
    ...         a1, p, _, _ = indices_tuple
    ...         return {"loss": {"losses": pos_pair_dist, "indices": (a1, p), "reduction_type": "pos_pair"}}
    >>> emb = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-0.6, 0.8]])
    >>> loss = PositiveDistanceLoss()
    >>> round(float(loss(emb, [0, 0, 1, 1])), 4)  # all positive pairs
    0.6325
    >>> round(float(loss(emb, [0, 1, 0, 1], BatchHardMiner()(emb, [0, 1, 0, 1]))), 4)  # triplets become pairs
    1.4142
    """

    def __init__(self, mat_based_loss: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._mat_based = bool(mat_based_loss)

    def compute_loss(self, embeddings: Array, labels: Array, indices_tuple: Any, ref_emb: Array, ref_labels: Array) -> dict:
        indices_tuple = tuple_pairs(self, embeddings, labels, indices_tuple, ref_emb, ref_labels)
        if all(x.shape[0] == 0 for x in indices_tuple):
            return self.zero_losses()
        mat = self.distance(embeddings, ref_emb)
        if self._mat_based:
            return self.mat_based_loss(mat, indices_tuple)
        return self.pair_based_loss(mat, indices_tuple)

    def _compute_loss(self, *args: Any) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} does not implement _compute_loss")

    def mat_based_loss(self, mat: Array, indices_tuple: tuple[Array, ...]) -> dict:
        a1, p, a2, n = indices_tuple
        pos_mask = pair_mask(a1, p, tuple(mat.shape), mat)
        neg_mask = pair_mask(a2, n, tuple(mat.shape), mat)
        xp, _ = namespace_and_device(mat)
        if bool(to_numpy(xp.any(xp.logical_and(pos_mask != 0, neg_mask != 0)))):
            raise ValueError(f"{type(self).__name__}: each pair must be either positive or negative, not both")
        return self._compute_loss(mat, pos_mask, neg_mask)

    def pair_based_loss(self, mat: Array, indices_tuple: tuple[Array, ...]) -> dict:
        a1, p, a2, n = indices_tuple
        pos_pair = gather_pairs(mat, a1, p)
        neg_pair = gather_pairs(mat, a2, n)
        return self._compute_loss(pos_pair, neg_pair, indices_tuple)
