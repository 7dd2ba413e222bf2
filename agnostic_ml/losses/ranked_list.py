"""RankedListLoss: weighted hinges that pull positives inside ``alpha - margin`` and push negatives beyond ``alpha``."""

from __future__ import annotations

import warnings
from typing import Any

from .._array_api import eye_mask, index_dtype, namespace_and_device
from ..distances import BaseDistance, LpDistance
from ._unsupported import indices_tuple_not_supported, labels_required, ref_not_supported
from .base import BaseMetricLossFunction

Array = Any


def ranked_list_losses(
    mat: Array, labels: Array, *, margin: float, alpha: float, imbalance: float, Tp: float, Tn: float
) -> Array:
    """Per query ``i`` (Wang et al. 2019, PML's form):

    ``P*`` are the positives (``j != i``) with ``d_ij > alpha - margin``, ``N*`` the negatives
    with ``d_ij < alpha`` (only entries with a positive distance count);
    ``w+ = exp(Tp (d - (alpha - margin)))`` on ``P*``, ``w- = exp(Tn (alpha - d))`` on ``N*``;

        ``L_P = sum_{P*} w+ (d - (alpha - margin)) / (sum_{P*} w+ + N * 1e-5)``
        ``L_N = sum_{N*} w- (alpha - d) / (sum_{N*} w- + N * 1e-5)``
        ``L = (1 - imbalance) L_P + imbalance L_N``

    (PML adds ``1e-5`` to every one of the ``N`` weights of a row, selected or not.)
    O(N^2) memory.

    Examples
    --------
    >>> import numpy as np
    >>> d = np.array([[0.0, 1.2, 0.5], [1.2, 0.0, 1.5], [0.5, 1.5, 0.0]])
    >>> ranked_list_losses(d, np.array([0, 0, 1]), margin=0.4, alpha=1.2, imbalance=0.5, Tp=0, Tn=0).round(4).tolist()
    [0.55, 0.2, 0.35]
    """
    xp, device = namespace_and_device(mat)
    n = mat.shape[0]
    zero = xp.zeros_like(mat)
    eye = eye_mask(n, n, xp=xp, device=device)
    mat = xp.where(eye, zero, mat)
    same = xp.expand_dims(labels, axis=1) == xp.expand_dims(labels, axis=0)
    n_star = xp.where(xp.logical_and(xp.logical_not(same), mat < alpha), mat, zero)
    pos = xp.logical_and(same, xp.logical_not(eye))
    p_star = xp.where(xp.logical_and(pos, mat > alpha - margin), mat, zero)
    w_p = xp.where(p_star > 0, xp.exp(Tp * (p_star - (alpha - margin))), zero)
    w_n = xp.where(n_star > 0, xp.exp(Tn * (alpha - n_star)), zero)
    eps = 1e-5 * n
    loss_p = xp.sum(w_p * (p_star - (alpha - margin)), axis=1) / (xp.sum(w_p, axis=1) + eps)
    loss_n = xp.sum(w_n * (alpha - n_star), axis=1) / (xp.sum(w_n, axis=1) + eps)
    return (1 - imbalance) * loss_p + imbalance * loss_n


class RankedListLoss(BaseMetricLossFunction):
    """Ranked list loss (Wang et al. 2019), PML's ``RankedListLoss(margin, Tn, imbalance=0.5, alpha=None, Tp=0)``.

    Per query: :func:`ranked_list_losses` (``alpha`` defaults to ``1 + margin / 2``; the
    defaults are RLL-Simpler). Element losses, default reducer :class:`MeanReducer`;
    default distance :class:`LpDistance`. Labels are required; no ``indices_tuple``, no
    ``ref_emb``. ``Tp`` or ``Tn`` above 5 warns (the weights may overflow), as PML.

    Parameters
    ----------
    margin : float
        The gap between the positive and the negative boundaries.
    Tn : float
        Temperature of the negatives' weights.
    imbalance : float, default 0.5
        Weight of the negative part, in ``[0, 1]``.
    alpha : float, optional
        The negative boundary (default ``1 + margin / 2``).
    Tp : float, default 0
        Temperature of the positives' weights.

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.losses import RankedListLoss
    >>> emb = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-0.6, 0.8]])
    >>> round(float(RankedListLoss(margin=0.4, Tn=1)(emb, [0, 1, 0, 1])), 4)
    0.5624
    """

    def __init__(self, margin: float, Tn: float, imbalance: float = 0.5, alpha: float | None = None, Tp: float = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.margin = margin
        if not 0 <= imbalance <= 1:
            raise ValueError(f"imbalance must be between 0 and 1, got {imbalance!r}")
        self.imbalance = imbalance
        self.alpha = alpha if alpha is not None else 1 + margin / 2
        if Tp > 5 or Tn > 5:
            warnings.warn("Values of Tp or Tn are too high. Too large temperature values may lead to overflow.", stacklevel=2)
        self.Tp = Tp
        self.Tn = Tn

    def get_default_distance(self) -> BaseDistance:
        return LpDistance()

    def compute_loss(self, embeddings: Array, labels: Array, indices_tuple: Any, ref_emb: Array, ref_labels: Array) -> dict:
        owner = type(self).__name__
        labels_required(labels, owner)
        ref_not_supported(embeddings, ref_emb, owner)
        indices_tuple_not_supported(indices_tuple, owner)
        xp, device = namespace_and_device(embeddings)
        mat = self.distance(embeddings, embeddings)
        losses = ranked_list_losses(
            mat, labels, margin=self.margin, alpha=self.alpha, imbalance=self.imbalance, Tp=self.Tp, Tn=self.Tn
        )
        idx = xp.arange(losses.shape[0], dtype=index_dtype(xp, device), device=device)
        return {"loss": {"losses": losses, "indices": idx, "reduction_type": "element"}}
