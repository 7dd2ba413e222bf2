"""NTXentLoss (NT-Xent, InfoNCE): softmax of each positive pair against its anchor's negatives."""

from __future__ import annotations

from typing import Any

from .._array_api import namespace_and_device
from ..distances import BaseDistance, CosineSimilarity
from ._grouped import anchor_negatives_logsumexp
from ._math import gather_pairs
from ._pml_hooks import overrides
from ._precision import at_least_float32
from .generic_pair import GenericPairLoss

Array = Any


def ntxent_losses(
    pos_pairs: Array,
    indices_tuple: tuple[Array, ...],
    temperature: float,
    *,
    is_inverted: bool,
    neg_pairs: Array | None = None,
    mat: Array | None = None,
) -> Array:
    """Per positive pair ``k = (a, p)``: ``-log(e^{x_k} / (e^{x_k} + sum_{j: a2_j = a} e^{x_j}))``.

    ``x = s / temperature`` for similarities, ``-d / temperature`` for distances;
    ``pos_pairs`` are the values of the pairs ``(a1, p)`` of ``indices_tuple = (a1, p, a2, n)``,
    and the negatives' values come as ``mat`` (the matrix the pairs index, O(N*M)) or as
    ``neg_pairs`` (the values of ``(a2, n)`` in tuple order, O(N2)); see
    :func:`~agnostic_ml.losses._grouped.anchor_negatives_logsumexp`. A negative pair listed
    twice counts twice. A pair whose anchor has no negative pair gives 0 (as in PML).
    Computed as ``logaddexp(x_k, R_a) - x_k`` with ``R_a`` the log-sum-exp of anchor ``a``'s
    negatives: no (P x N2) matrix (PML builds one) and no overflow for any temperature.

    Examples
    --------
    >>> import numpy as np
    >>> tup = (np.array([0]), np.array([1]), np.array([0, 0]), np.array([2, 3]))
    >>> ntxent_losses(np.array([0.9]), tup, 1.0, is_inverted=True, neg_pairs=np.array([0.1, 0.1])).round(4).tolist()
    [0.6411]
    """
    xp, _ = namespace_and_device(pos_pairs)
    scale = (1.0 if is_inverted else -1.0) / temperature
    x_pos = at_least_float32(pos_pairs) * scale
    r, found = anchor_negatives_logsumexp(
        lambda v: at_least_float32(v) * scale, indices_tuple, indices_tuple[0], neg_pairs=neg_pairs, mat=mat
    )
    lse = xp.where(found, xp.logaddexp(x_pos, r), x_pos)
    return lse - x_pos


class NTXentLoss(GenericPairLoss):
    """NT-Xent / InfoNCE (Chen et al. 2020), PML's ``NTXentLoss(temperature=0.07)``.

    Per positive pair ``(a, p)`` (from ``indices_tuple``, or all of them):
    ``L = -log(exp(x_ap) / (exp(x_ap) + sum_n exp(x_an)))`` with ``x = s / temperature``
    (``-d / temperature`` for a distance), ``n`` ranging over the negative pairs of the same
    anchor (:func:`ntxent_losses`). Default distance :class:`CosineSimilarity`, reducer
    :class:`MeanReducer` (reduction ``"pos_pair"``).

    **Memory**: O(N*M). PML compares every positive pair with every negative pair, a
    P x N2 matrix (1.9e11 entries, 740 GB in float32, at batch 1200 with 10 classes);
    here each anchor's negatives are reduced once on the N x M matrix, with the pairs'
    multiplicities as counts (a pair mined twice counts twice, as PML counts it).

    PML's hook ``_compute_loss(pos_pairs, neg_pairs, indices_tuple)`` is kept: a subclass
    that overrides it is called exactly as PML calls it (and ``super()._compute_loss`` works,
    in O(P + N2) memory from the pair values alone).

    Difference from PML: PML computes ``-log(softmax + finfo.tiny)``, which saturates at
    ``-log(tiny)`` (87 in float32) with a zero gradient once the softmax underflows; here
    the log-softmax is exact (``logaddexp(x_ap, R_a) - x_ap``). The two agree to rounding
    whenever the softmax is above ~1e-30.

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.losses import NTXentLoss
    >>> emb = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-0.6, 0.8]])
    >>> round(float(NTXentLoss(temperature=0.5)(emb, [0, 0, 1, 1])), 4)
    0.4302
    """

    def __init__(self, temperature: float = 0.07, **kwargs: Any) -> None:
        super().__init__(mat_based_loss=False, **kwargs)
        self.temperature = temperature

    def get_default_distance(self) -> BaseDistance:
        return CosineSimilarity()

    def pair_based_loss(self, mat: Array, indices_tuple: tuple[Array, ...]) -> dict:
        if overrides(self, NTXentLoss, "_compute_loss"):
            return super().pair_based_loss(mat, indices_tuple)
        return self._losses(gather_pairs(mat, indices_tuple[0], indices_tuple[1]), indices_tuple, mat=mat)

    def _compute_loss(self, pos_pairs: Array, neg_pairs: Array, indices_tuple: tuple[Array, ...]) -> dict:
        return self._losses(pos_pairs, indices_tuple, neg_pairs=neg_pairs)

    def _losses(self, pos_pairs: Array, indices_tuple: tuple[Array, ...], **negatives: Any) -> dict:
        a1, p, a2, _ = indices_tuple
        if a1.shape[0] == 0 or a2.shape[0] == 0:
            return self.zero_losses()
        losses = ntxent_losses(
            pos_pairs, indices_tuple, self.temperature, is_inverted=self.distance.is_inverted, **negatives
        )
        return {"loss": {"losses": losses, "indices": (a1, p), "reduction_type": "pos_pair"}}
