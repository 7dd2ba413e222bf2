"""TupletMarginLoss (Yu & Tao 2019): an angular margin on each positive pair against its anchor's negatives."""

from __future__ import annotations

import math
from typing import Any

from .._array_api import namespace_and_device, no_grad
from ..distances import BaseDistance, CosineSimilarity
from ._grouped import anchor_negatives_logsumexp
from ._math import gather_pairs, softplus
from ._pml_hooks import overrides
from ._precision import at_least_float32
from .generic_pair import GenericPairLoss

Array = Any


def cos_minus_angle(s: Array, margin: float) -> Array:
    """``cos(acos(s) - margin)`` as ``s cos(m) + sqrt(1 - s^2) sin(m)``, finite for any ``s``.

    Equal to PML's ``cos(acos(s) - m)`` (value and gradient) for ``|s| < 1``. At ``|s| >= 1``
    (duplicate embeddings, or a cosine rounded just above 1) PML's ``acos`` gives NaN or an
    infinite gradient; here ``sqrt(1 - s^2)`` is 0 there with a zero gradient.

    Examples
    --------
    >>> import numpy as np
    >>> cos_minus_angle(np.array([0.5, 1.0 + 1e-16]), 0.1).round(6).tolist()
    [0.58396, 0.995004]
    """
    xp, _ = namespace_and_device(s)
    z = 1 - s * s
    ok = z > 0
    sin_theta = xp.where(ok, xp.sqrt(xp.where(ok, z, xp.ones_like(z))), xp.zeros_like(z))
    return s * math.cos(margin) + sin_theta * math.sin(margin)


def tuplet_margin_losses(
    pos_pairs: Array,
    indices_tuple: tuple[Array, ...],
    margin: float,
    scale: float,
    *,
    neg_pairs: Array | None = None,
    mat: Array | None = None,
) -> Array:
    """Per positive pair ``k = (a, p)``: ``log(1 + sum_{j: a2_j = a} exp(scale * (s_j - cos(theta_k - margin))))``.

    ``s`` are cosine similarities, ``theta_k = acos(s_k)``, ``margin`` in radians.
    ``pos_pairs`` are the values of the pairs ``(a1, p)`` of ``indices_tuple``; the
    negatives' values come as ``mat`` (O(N*M)) or ``neg_pairs`` (O(N2)), see
    :func:`~agnostic_ml.losses._grouped.anchor_negatives_logsumexp`. A pair whose anchor has
    no negative pair gives 0. Computed as ``softplus(R_a - scale * cos(theta_k - margin))``
    with ``R_a`` the log-sum-exp of ``scale * s_j`` over the anchor's negative pairs (a pair
    listed twice counts twice): no P x N2 matrix (PML builds one).

    Examples
    --------
    >>> import numpy as np
    >>> tup = (np.array([0]), np.array([1]), np.array([0, 0]), np.array([2, 3]))
    >>> tuplet_margin_losses(np.array([0.9]), tup, 0.1, 4.0, neg_pairs=np.array([0.1, -0.2])).round(4).tolist()
    [0.0444]
    """
    xp, _ = namespace_and_device(pos_pairs)
    pos_adj = cos_minus_angle(at_least_float32(pos_pairs), margin)
    r, found = anchor_negatives_logsumexp(
        lambda v: at_least_float32(v) * scale, indices_tuple, indices_tuple[0], neg_pairs=neg_pairs, mat=mat
    )
    losses = softplus(r - scale * pos_adj)
    return xp.where(found, losses, xp.zeros_like(losses))


class TupletMarginLoss(GenericPairLoss):
    """Tuplet margin loss, PML's ``TupletMarginLoss(margin=5.73, scale=64)``.

    ``margin`` is given in degrees and stored in radians (``self.margin``, as PML does).
    Per positive pair, see :func:`tuplet_margin_losses`. The distance must be
    :class:`CosineSimilarity` (the default; anything else raises ``ValueError``); reducer
    :class:`MeanReducer` (reduction ``"pos_pair"``). With ``collect_stats``,
    ``avg_pos_angle`` and ``avg_neg_angle`` (degrees, 0-D arrays) are recorded.

    **Memory**: O(N*M): each anchor's negatives are reduced once on the N x M matrix
    (PML builds a P x N2 matrix, 1.9e11 entries at batch 1200 with 10 classes). A negative
    pair mined twice counts twice, as in PML. PML's hook
    ``_compute_loss(pos_pairs, neg_pairs, indices_tuple)`` is kept (a subclass that
    overrides it is called as PML calls it; it works from the pair values, O(P + N2)).

    Difference from PML: a cosine of exactly (or, by rounding, above) 1 gives PML a NaN
    (``acos``); here the loss and gradient stay finite (:func:`cos_minus_angle`).

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.losses import TupletMarginLoss
    >>> emb = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-0.6, 0.8]])
    >>> round(float(TupletMarginLoss(scale=8)(emb, [0, 0, 1, 1])), 4)
    0.0617
    """

    def __init__(self, margin: float = 5.73, scale: float = 64, **kwargs: Any) -> None:
        super().__init__(mat_based_loss=False, **kwargs)
        self.check_distance(CosineSimilarity)
        self.margin = math.radians(margin)
        self.scale = scale

    def get_default_distance(self) -> BaseDistance:
        return CosineSimilarity()

    def pair_based_loss(self, mat: Array, indices_tuple: tuple[Array, ...]) -> dict:
        if overrides(self, TupletMarginLoss, "_compute_loss") or self.collect_stats:
            return super().pair_based_loss(mat, indices_tuple)
        return self._losses(gather_pairs(mat, indices_tuple[0], indices_tuple[1]), indices_tuple, mat=mat)

    def _compute_loss(self, pos_pairs: Array, neg_pairs: Array, indices_tuple: tuple[Array, ...]) -> dict:
        if indices_tuple[0].shape[0] and indices_tuple[2].shape[0]:
            self.set_stats(pos_pairs, neg_pairs)
        return self._losses(pos_pairs, indices_tuple, neg_pairs=neg_pairs)

    def _losses(self, pos_pairs: Array, indices_tuple: tuple[Array, ...], **negatives: Any) -> dict:
        a1, p, a2, _ = indices_tuple
        if a1.shape[0] == 0 or a2.shape[0] == 0:
            return self.zero_losses()
        losses = tuplet_margin_losses(pos_pairs, indices_tuple, self.margin, self.scale, **negatives)
        return {"loss": {"losses": losses, "indices": (a1, p), "reduction_type": "pos_pair"}}

    def set_stats(self, pos_pairs: Array, neg_pairs: Array) -> None:
        if not self.collect_stats:
            return
        xp, _ = namespace_and_device(pos_pairs)
        with no_grad(xp):
            deg = 180.0 / math.pi
            pos = xp.acos(xp.clip(at_least_float32(pos_pairs), -1.0, 1.0))
            neg = xp.acos(xp.clip(at_least_float32(neg_pairs), -1.0, 1.0))
            self.record(avg_pos_angle=xp.mean(pos) * deg, avg_neg_angle=xp.mean(neg) * deg)
