"""NPairsLoss: one positive pair per class, cross-entropy over the anchors x positives similarities."""

from __future__ import annotations

from typing import Any

from .._array_api import namespace_and_device, nonzero
from ..distances import BaseDistance, DotProductSimilarity
from ..tuples import convert_to_pairs, logsumexp
from ._unsupported import labels_required, ref_not_supported
from .base import BaseMetricLossFunction

Array = Any


def pos_pairs_with_unique_labels(indices_tuple: Any, labels: Array, *, like: Array) -> tuple[Array, Array]:
    """PML's ``convert_to_pos_pairs_with_unique_labels``: one positive pair per anchor label.

    Of the positive pairs (the tuple's, or all of them), keeps for each distinct anchor
    label the first pair in order, sorted by label (``numpy.unique(..., return_index=True)``).

    Examples
    --------
    >>> import numpy as np
    >>> [t.tolist() for t in pos_pairs_with_unique_labels(None, np.array([1, 0, 1, 0]), like=np.zeros((4, 2)))]
    [[1, 0], [3, 2]]
    """
    xp, _ = namespace_and_device(like)
    a, p, _, _ = convert_to_pairs(indices_tuple, labels, like=like)
    if a.shape[0] == 0:
        return a, p
    la = xp.take(labels, a)
    order = xp.argsort(la, stable=True)
    srt = xp.take(la, order)
    first = xp.concat([xp.ones((1,), dtype=xp.bool, device=namespace_and_device(la)[1]), srt[1:] != srt[:-1]])
    (pos,) = nonzero(first, xp=xp)
    keep = xp.take(order, pos)
    return xp.take(a, keep), xp.take(p, keep)


def n_pairs_losses(sim: Array) -> Array:
    """Per anchor ``i``: ``logsumexp_j(sim[i, j]) - sim[i, i]`` (cross-entropy with target ``i``).

    Examples
    --------
    >>> import numpy as np
    >>> n_pairs_losses(np.array([[1.0, 0.0], [0.0, 1.0]])).round(4).tolist()
    [0.3133, 0.3133]
    """
    xp, _ = namespace_and_device(sim)
    n = sim.shape[0]
    eye = xp.eye(n, dtype=xp.bool, device=namespace_and_device(sim)[1])
    diag = xp.sum(xp.where(eye, sim, xp.zeros_like(sim)), axis=1)
    return logsumexp(sim, add_one=False, dim=1)[:, 0] - diag


class NPairsLoss(BaseMetricLossFunction):
    """N-pairs loss (Sohn 2016), PML's ``NPairsLoss()``.

    One positive pair ``(a_c, p_c)`` per class (:func:`pos_pairs_with_unique_labels`), then
    per anchor the cross-entropy of its similarities to all the positives with its own
    positive as the target (:func:`n_pairs_losses`; distances are negated). Default
    distance :class:`DotProductSimilarity` (normalised), default reducer
    :class:`MeanReducer`. Labels required; no ``ref_emb``. Records ``num_pairs``. Memory
    O(N^2) for the pairs and O(C^2) for the loss.

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.losses import NPairsLoss
    >>> emb = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-0.6, 0.8]])
    >>> round(float(NPairsLoss()(emb, [0, 1, 0, 1])), 4)
    0.7375
    """

    def compute_loss(self, embeddings: Array, labels: Array, indices_tuple: Any, ref_emb: Array, ref_labels: Array) -> dict:
        owner = type(self).__name__
        labels_required(labels, owner)
        ref_not_supported(embeddings, ref_emb, owner)
        xp, _ = namespace_and_device(embeddings)
        a, p = pos_pairs_with_unique_labels(indices_tuple, labels, like=embeddings)
        self.record(num_pairs=int(a.shape[0]))
        if a.shape[0] == 0:
            return self.zero_losses()
        sim = self.distance(xp.take(embeddings, a, axis=0), xp.take(embeddings, p, axis=0))
        if not self.distance.is_inverted:
            sim = -sim
        return {"loss": {"losses": n_pairs_losses(sim), "indices": a, "reduction_type": "element"}}

    def get_default_distance(self) -> BaseDistance:
        return DotProductSimilarity()
