"""NCALoss: neighbourhood component analysis, the log-probability of picking a same-label neighbour."""

from __future__ import annotations

from typing import Any

from .._array_api import eye_mask, namespace_and_device, nonzero
from ..distances import BaseDistance, LpDistance
from ..tuples import convert_to_weights, logsumexp
from ._unsupported import labels_required, setting
from .base import BaseMetricLossFunction

Array = Any


def nca_losses(mat: Array, labels: Array, ref_labels: Array, softmax_scale: float, *, is_inverted: bool, self_ref: bool) -> tuple[Array, Array]:
    """Per query ``i``: ``-log sum_{j: y_j = y_i} softmax_j(scale * z_i)`` and whether it counts.

    ``z = s`` for a similarity, ``z = -d`` for a distance; without a separate reference set
    (``self_ref``) the query itself is excluded from the softmax (PML fills the diagonal
    with the dtype's lowest value). Returns ``(losses, has_positive)`` over all queries; PML
    keeps the queries whose probability is non-zero, i.e. those with a same-label
    reference. Computed as ``logsumexp_all - logsumexp_same`` (log-space, O(N*M)), so a
    probability that underflows (large ``softmax_scale``, low precision) still gives its
    finite loss instead of being dropped.

    Examples
    --------
    >>> import numpy as np
    >>> d = np.array([[0.0, 1.0, 4.0], [1.0, 0.0, 4.0], [4.0, 4.0, 0.0]])
    >>> loss, keep = nca_losses(d, np.array([0, 0, 1]), np.array([0, 0, 1]), 1.0, is_inverted=False, self_ref=True)
    >>> loss.round(4).tolist(), keep.tolist()
    ([0.0486, 0.0486, 0.0], [True, True, False])
    """
    xp, device = namespace_and_device(mat)
    z = mat if is_inverted else -mat
    z = softmax_scale * z
    same = xp.expand_dims(labels, axis=1) == xp.expand_dims(ref_labels, axis=0)
    if self_ref and mat.shape[0] > 0:
        others = xp.logical_not(eye_mask(mat.shape[0], mat.shape[1], xp=xp, device=device))
        same = xp.logical_and(same, others)
    else:
        others = xp.ones(mat.shape, dtype=xp.bool, device=device)
    lse_all = logsumexp(z, others, add_one=False, dim=1)[:, 0]
    lse_same = logsumexp(z, same, add_one=False, dim=1)[:, 0]
    keep = xp.any(same, axis=1)
    return xp.where(keep, lse_all - lse_same, xp.zeros_like(lse_all)), keep


class NCALoss(BaseMetricLossFunction):
    """NCA loss (Goldberger et al. 2005), PML's ``NCALoss(softmax_scale=1)``.

    Per query with at least one same-label reference: ``-log sum_{j same label}
    softmax_j(-softmax_scale * d_ij) * w_i`` (:func:`nca_losses`), where ``w`` are the miner
    weights of an ``indices_tuple`` (``convert_to_weights``; over the anchors only when a
    separate ``ref_emb`` is given). Default distance ``LpDistance(power=2)``, default
    reducer :class:`MeanReducer` (element losses). Labels are required; a batch of one
    row gives the zero loss. Memory O(N*M).

    Difference from PML: the log-probability is computed in log-space, so a query whose
    probability underflows to 0 (PML drops it) gets its finite loss.

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.losses import NCALoss
    >>> emb = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-0.6, 0.8]])
    >>> round(float(NCALoss()(emb, [0, 1, 0, 1])), 4)
    2.0302
    """

    def __init__(self, softmax_scale: float = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.softmax_scale = softmax_scale

    def get_default_distance(self) -> BaseDistance:
        return LpDistance(power=2)

    def compute_loss(self, embeddings: Array, labels: Array, indices_tuple: Any, ref_emb: Array, ref_labels: Array) -> dict:
        if embeddings.shape[0] <= 1:
            return self.zero_losses()
        owner = type(self).__name__
        labels_required(labels, owner)
        if ref_labels is None:
            raise ValueError(f"{owner}: ref_emb was given without ref_labels; pass ref_labels too")
        return self.nca_computation(embeddings, ref_emb, labels, ref_labels, indices_tuple)

    def nca_computation(self, query: Array, reference: Array, query_labels: Array, reference_labels: Array, indices_tuple: Any) -> dict:
        """PML's hook (ProxyNCALoss calls it with the proxies as the reference)."""
        xp, _ = namespace_and_device(query)
        self_ref = query is reference
        weights = convert_to_weights(indices_tuple, query_labels, dtype=query.dtype, using_ref=not self_ref, like=query)
        mat = self.distance(query, reference)
        scale = setting(self.softmax_scale, self, mat)
        losses, keep = nca_losses(
            mat, query_labels, reference_labels, scale, is_inverted=self.distance.is_inverted, self_ref=self_ref
        )
        (idx,) = nonzero(keep, xp=xp)
        return {
            "loss": {
                "losses": xp.take(losses * weights, idx),
                "indices": idx,
                "reduction_type": "element",
            }
        }
