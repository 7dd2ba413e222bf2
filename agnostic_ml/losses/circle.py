"""CircleLoss (Sun et al. 2020): self-paced weighting of each anchor's similarities."""

from __future__ import annotations

from typing import Any

from .._array_api import index_dtype, namespace_and_device, no_grad
from ..distances import BaseDistance, CosineSimilarity
from ..reducers import AvgNonZeroReducer, BaseReducer
from ..tuples import logsumexp
from ._math import relu, softplus
from ._precision import at_least_float32
from .generic_pair import GenericPairLoss

Array = Any


def circle_losses(
    mat: Array, pos_mask: Array, neg_mask: Array, gamma: float, op: float, on: float, delta_p: float, delta_n: float
) -> Array:
    """Per anchor row ``i``: ``softplus(LSE_p(-gamma a_p (s_p - delta_p)) + LSE_n(gamma a_n (s_n - delta_n)))``.

    ``a_p = relu(op - s_p)`` and ``a_n = relu(s_n - on)`` are weights that receive no
    gradient (PML detaches them); PML's defaults are ``op = 1 + m``, ``on = -m``,
    ``delta_p = 1 - m``, ``delta_n = m``. A row without a positive or without a negative
    gives 0. Shifted log-sum-exps in float32 at least (``gamma = 80`` cannot overflow).
    O(N*M) memory.

    Examples
    --------
    >>> import numpy as np
    >>> mat = np.array([[1.0, 0.9, 0.1]])
    >>> pos, neg = np.array([[False, True, False]]), np.array([[False, False, True]])
    >>> circle_losses(mat, pos, neg, 10.0, 1.4, -0.4, 0.6, 0.4).round(4).tolist()
    [0.0486]
    """
    xp, _ = namespace_and_device(mat)
    mat = at_least_float32(mat)
    with no_grad(xp):
        w_pos = relu(op - mat)
        w_neg = relu(mat - on)
    lse_pos = logsumexp(-gamma * w_pos * (mat - delta_p), keep_mask=pos_mask, add_one=False, dim=1)
    lse_neg = logsumexp(gamma * w_neg * (mat - delta_n), keep_mask=neg_mask, add_one=False, dim=1)
    losses = xp.reshape(softplus(lse_pos + lse_neg), (-1,))
    keep = xp.logical_and(xp.any(pos_mask, axis=1), xp.any(neg_mask, axis=1))
    return xp.where(keep, losses, xp.zeros_like(losses))


class CircleLoss(GenericPairLoss):
    """Circle loss, PML's ``CircleLoss(m=0.4, gamma=80)``.

    Per anchor, see :func:`circle_losses`, with ``op = 1 + m``, ``on = -m``,
    ``delta_p = 1 - m``, ``delta_n = m`` computed at construction (attributes with PML's
    names). The distance must be :class:`CosineSimilarity` (the default; anything else
    raises ``ValueError``); reducer :class:`AvgNonZeroReducer` (reduction ``"element"``).
    Mined pairs are a mask: a pair given twice counts once (as in PML). O(N*M) memory.

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.losses import CircleLoss
    >>> emb = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-0.6, 0.8]])
    >>> round(float(CircleLoss(gamma=10)(emb, [0, 0, 1, 1])), 4)
    0.7494
    """

    def __init__(self, m: float = 0.4, gamma: float = 80, **kwargs: Any) -> None:
        super().__init__(mat_based_loss=True, **kwargs)
        self.check_distance(CosineSimilarity)
        self.m = m
        self.gamma = gamma
        self.op = 1 + self.m
        self.on = -self.m
        self.delta_p = 1 - self.m
        self.delta_n = self.m

    def get_default_distance(self) -> BaseDistance:
        return CosineSimilarity()

    def get_default_reducer(self) -> BaseReducer:
        return AvgNonZeroReducer()

    def _compute_loss(self, mat: Array, pos_mask: Array, neg_mask: Array) -> dict:
        xp, device = namespace_and_device(mat)
        losses = circle_losses(
            mat, pos_mask != 0, neg_mask != 0, self.gamma, self.op, self.on, self.delta_p, self.delta_n
        )
        rows = xp.arange(mat.shape[0], dtype=index_dtype(xp, device), device=device)
        return {"loss": {"losses": losses, "indices": rows, "reduction_type": "element"}}
