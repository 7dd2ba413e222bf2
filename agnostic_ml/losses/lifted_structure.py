"""LiftedStructureLoss and GeneralizedLiftedStructureLoss (Song et al. 2016; Hermans et al. 2017)."""

from __future__ import annotations

from typing import Any

from .._array_api import index_dtype, namespace_and_device
from ..distances import BaseDistance
from ..tuples import logsumexp
from ._grouped import anchor_negatives_logsumexp, combine_logsumexp
from ._math import gather_pairs, relu
from ._pml_hooks import overrides
from ._precision import at_least_float32
from .generic_pair import GenericPairLoss

Array = Any


def lifted_structure_losses(
    pos_pairs: Array,
    indices_tuple: tuple[Array, ...],
    pos_margin: float,
    neg_margin: float,
    distance: BaseDistance,
    *,
    neg_pairs: Array | None = None,
    mat: Array | None = None,
) -> Array:
    """Per positive pair ``k = (a, p)``: ``relu(LSE_k + margin(d_k, pos_margin))**2 / 2``.

    ``LSE_k = log(sum_j exp(margin(neg_margin, d_j)))`` over the negative pairs
    ``j = (a2_j, n_j)`` whose first index is ``a`` *or* ``p`` (0 when there is none);
    ``margin(x, y)`` is ``x - y`` for distances and ``y - x`` for similarities, so for a
    distance ``L = relu(log(sum_j exp(neg_margin - d_j)) + d_ap - pos_margin)**2 / 2``. The
    halving is PML's: each positive pair is usually listed in both directions. Negative
    pairs listed twice count twice (as in PML). ``pos_pairs`` are the values of ``(a1, p)``;
    the negatives' values come as ``mat`` (O(N*M)) or ``neg_pairs`` (O(N2)), see
    :func:`~agnostic_ml.losses._grouped.anchor_negatives_logsumexp`.

    As in PML, "first index is ``p``" compares indices: with a separate reference set ``p``
    indexes ``ref_emb`` and ``a2_j`` the batch, so it matches the batch row with ``p``'s number.

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.distances import LpDistance
    >>> tup = (np.array([0]), np.array([1]), np.array([0, 1]), np.array([2, 2]))
    >>> lifted_structure_losses(np.array([0.5]), tup, 0.0, 1.0, LpDistance(), neg_pairs=np.array([1.0, 1.0])).round(4).tolist()
    [0.7118]
    """
    xp, _ = namespace_and_device(pos_pairs)
    a1, p, _, _ = indices_tuple
    rem_pos = distance.margin(at_least_float32(pos_pairs), pos_margin)

    def rem_neg(v: Array) -> Array:
        return distance.margin(neg_margin, at_least_float32(v))

    r_a, f_a = anchor_negatives_logsumexp(rem_neg, indices_tuple, a1, neg_pairs=neg_pairs, mat=mat)
    r_p, f_p = anchor_negatives_logsumexp(rem_neg, indices_tuple, p, neg_pairs=neg_pairs, mat=mat)
    # ``a2 == a1 or a2 == p``: a self pair (a1 == p) must not count its negatives twice.
    f_p = xp.logical_and(f_p, p != a1)
    lse = combine_logsumexp(r_a, f_a, r_p, f_p)
    return relu(lse + rem_pos) ** 2 / 2


class LiftedStructureLoss(GenericPairLoss):
    """Lifted structure loss (Song et al. 2016), PML's ``LiftedStructureLoss(neg_margin=1, pos_margin=0)``.

    Per positive pair (from ``indices_tuple`` or all pairs), see
    :func:`lifted_structure_losses`. Default distance ``LpDistance()``, reducer
    :class:`MeanReducer` (reduction ``"pos_pair"``).

    **Memory**: O(N*M): each anchor's negative pairs are reduced once on the N x M matrix
    (PML builds a P x N2 matrix, 1.9e11 entries at batch 1200 with 10 classes). A negative
    pair mined twice counts twice, as in PML. PML's hook
    ``_compute_loss(pos_pairs, neg_pairs, indices_tuple)`` is kept (a subclass that
    overrides it is called as PML calls it; it works from the pair values, O(P + N2)).

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.losses import LiftedStructureLoss
    >>> emb = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-0.6, 0.8]])
    >>> round(float(LiftedStructureLoss()(emb, [0, 0, 1, 1])), 4)
    1.4328
    """

    def __init__(self, neg_margin: float = 1, pos_margin: float = 0, **kwargs: Any) -> None:
        super().__init__(mat_based_loss=False, **kwargs)
        self.neg_margin = neg_margin
        self.pos_margin = pos_margin

    def pair_based_loss(self, mat: Array, indices_tuple: tuple[Array, ...]) -> dict:
        if overrides(self, LiftedStructureLoss, "_compute_loss"):
            return super().pair_based_loss(mat, indices_tuple)
        return self._losses(gather_pairs(mat, indices_tuple[0], indices_tuple[1]), indices_tuple, mat=mat)

    def _compute_loss(self, pos_pairs: Array, neg_pairs: Array, indices_tuple: tuple[Array, ...]) -> dict:
        return self._losses(pos_pairs, indices_tuple, neg_pairs=neg_pairs)

    def _losses(self, pos_pairs: Array, indices_tuple: tuple[Array, ...], **negatives: Any) -> dict:
        a1, p, a2, _ = indices_tuple
        if a1.shape[0] == 0 or a2.shape[0] == 0:
            return self.zero_losses()
        losses = lifted_structure_losses(
            pos_pairs, indices_tuple, self.pos_margin, self.neg_margin, self.distance, **negatives
        )
        return {"loss": {"losses": losses, "indices": (a1, p), "reduction_type": "pos_pair"}}


def generalized_lifted_structure_losses(
    mat: Array, pos_mask: Array, neg_mask: Array, pos_margin: float, neg_margin: float, distance: BaseDistance
) -> Array:
    """Per anchor row ``i``: ``relu(LSE_p margin(x_ip, pos_margin) + LSE_n margin(neg_margin, x_in))``.

    For a distance: ``relu(log sum_p exp(d_ip - pos_margin) + log sum_n exp(neg_margin - d_in))``
    over the positives / negatives of row ``i`` (``pos_mask``/``neg_mask``, (N, M)); an empty
    set contributes 0 (PML's masked log-sum-exp). O(N*M) memory.

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.distances import LpDistance
    >>> mat = np.array([[0.0, 0.5, 1.2]])
    >>> pos, neg = np.array([[False, True, False]]), np.array([[False, False, True]])
    >>> generalized_lifted_structure_losses(mat, pos, neg, 0.0, 1.0, LpDistance()).round(4).tolist()
    [0.3]
    """
    xp, _ = namespace_and_device(mat)
    mat = at_least_float32(mat)
    pos = logsumexp(distance.margin(mat, pos_margin), keep_mask=pos_mask, add_one=False, dim=1)
    neg = logsumexp(distance.margin(neg_margin, mat), keep_mask=neg_mask, add_one=False, dim=1)
    return relu(xp.reshape(pos + neg, (-1,)))


class GeneralizedLiftedStructureLoss(GenericPairLoss):
    """The generalized lifted structure loss, PML's ``GeneralizedLiftedStructureLoss(neg_margin=1, pos_margin=0)``.

    From "In Defense of the Triplet Loss" (Hermans et al. 2017, page 4); per anchor, see
    :func:`generalized_lifted_structure_losses`. Default distance ``LpDistance()``, reducer
    :class:`MeanReducer` (reduction ``"element"`` over all N anchors). Mined pairs are a
    mask: a pair given twice counts once (as in PML). O(N*M) memory.

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.losses import GeneralizedLiftedStructureLoss
    >>> emb = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-0.6, 0.8]])
    >>> round(float(GeneralizedLiftedStructureLoss()(emb, [0, 0, 1, 1])), 4)
    0.9731
    """

    def __init__(self, neg_margin: float = 1, pos_margin: float = 0, **kwargs: Any) -> None:
        super().__init__(mat_based_loss=True, **kwargs)
        self.neg_margin = neg_margin
        self.pos_margin = pos_margin

    def _compute_loss(self, mat: Array, pos_mask: Array, neg_mask: Array) -> dict:
        xp, device = namespace_and_device(mat)
        losses = generalized_lifted_structure_losses(
            mat, pos_mask != 0, neg_mask != 0, self.pos_margin, self.neg_margin, self.distance
        )
        rows = xp.arange(mat.shape[0], dtype=index_dtype(xp, device), device=device)
        return {"loss": {"losses": losses, "indices": rows, "reduction_type": "element"}}
