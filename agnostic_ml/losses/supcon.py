"""SupConLoss (Khosla et al. 2020): supervised contrastive loss over each anchor's row."""

from __future__ import annotations

from typing import Any

from .._array_api import index_dtype, namespace_and_device, to_numpy
from ..distances import BaseDistance, CosineSimilarity
from ..reducers import AvgNonZeroReducer, BaseReducer
from ..tuples import logsumexp
from ._precision import at_least_float32
from .generic_pair import GenericPairLoss

Array = Any


def supcon_losses(mat: Array, pos_mask: Array, neg_mask: Array, temperature: float, *, is_inverted: bool) -> Array:
    """Per anchor row ``i``: ``-(1/|P_i|) sum_{p in P_i} log(e^{x_ip} / sum_{j in P_i u N_i} e^{x_ij})``.

    ``x = s / temperature`` (``-d / temperature`` for distances); ``pos_mask``/``neg_mask``
    are float 0/1 (N, M) masks. A row without positives gives 0. The log-softmax is a
    shifted log-sum-exp in float32 at least (no overflow for any temperature); PML's extra
    shift by the row maximum cancels out and is not needed. O(N*M) memory.

    Examples
    --------
    >>> import numpy as np
    >>> mat = np.array([[1.0, 0.9, 0.1]])
    >>> pos, neg = np.array([[0.0, 1.0, 0.0]]), np.array([[0.0, 0.0, 1.0]])
    >>> supcon_losses(mat, pos, neg, 1.0, is_inverted=True).round(4).tolist()
    [0.3711]
    """
    xp, _ = namespace_and_device(mat)
    x = at_least_float32(mat) * ((1.0 if is_inverted else -1.0) / temperature)
    pos = xp.astype(pos_mask, x.dtype)
    keep = xp.logical_or(pos_mask != 0, neg_mask != 0)
    log_prob = x - logsumexp(x, keep_mask=keep, add_one=False, dim=1)
    tiny = float(xp.finfo(x.dtype).smallest_normal)
    return -xp.sum(pos * log_prob, axis=1) / (xp.sum(pos, axis=1) + tiny)


class SupConLoss(GenericPairLoss):
    """Supervised contrastive loss, PML's ``SupConLoss(temperature=0.1)``.

    Per anchor, see :func:`supcon_losses`. Default distance :class:`CosineSimilarity`,
    reducer :class:`AvgNonZeroReducer` (reduction ``"element"``). If the tuple has no
    positive or no negative pair at all, the loss is zero (as in PML). Mined pairs are a
    mask: a pair given twice counts once (as in PML). O(N*M) memory.

    PML's hook ``_compute_loss(mat, pos_mask, neg_mask)`` (float 0/1 masks) is kept.

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.losses import SupConLoss
    >>> emb = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-0.6, 0.8]])
    >>> round(float(SupConLoss(temperature=0.5)(emb, [0, 0, 1, 1])), 4)
    0.4302
    """

    def __init__(self, temperature: float = 0.1, **kwargs: Any) -> None:
        super().__init__(mat_based_loss=True, **kwargs)
        self.temperature = temperature

    def get_default_distance(self) -> BaseDistance:
        return CosineSimilarity()

    def get_default_reducer(self) -> BaseReducer:
        return AvgNonZeroReducer()

    def _compute_loss(self, mat: Array, pos_mask: Array, neg_mask: Array) -> dict:
        xp, device = namespace_and_device(mat)
        if not bool(to_numpy(xp.logical_and(xp.any(pos_mask != 0), xp.any(neg_mask != 0)))):
            return self.zero_losses()
        losses = supcon_losses(mat, pos_mask, neg_mask, self.temperature, is_inverted=self.distance.is_inverted)
        rows = xp.arange(mat.shape[0], dtype=index_dtype(xp, device), device=device)
        return {"loss": {"losses": losses, "indices": rows, "reduction_type": "element"}}
