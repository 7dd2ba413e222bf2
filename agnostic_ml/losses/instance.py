"""InstanceLoss: cross-entropy of each row's scaled similarities against its label's rank."""

from __future__ import annotations

from typing import Any

from .._array_api import index_dtype, namespace_and_device
from ..distances import BaseDistance, CosineSimilarity
from ..reducers import BaseReducer, MeanReducer
from ..tuples import logsumexp
from ._unsupported import indices_tuple_not_supported, labels_required, ref_not_supported
from .base import BaseMetricLossFunction

Array = Any


def label_ranks(labels: Array) -> Array:
    """The rank of each label among the distinct labels (``unique(labels, return_inverse=True)[1]``).

    Fixed shapes (a sort, a cumulative count of new values and a ``searchsorted``), so it
    also runs where ``unique`` (a data-dependent shape) is unavailable.

    Examples
    --------
    >>> import numpy as np
    >>> label_ranks(np.array([7, 3, 7, 9])).tolist()
    [1, 0, 1, 2]
    """
    xp, device = namespace_and_device(labels)
    idt = index_dtype(xp, device)
    srt = xp.sort(labels)
    if srt.shape[0] == 0:
        return xp.zeros((0,), dtype=idt, device=device)
    new = xp.concat([xp.ones((1,), dtype=xp.bool, device=device), srt[1:] != srt[:-1]])
    dense = xp.cumulative_sum(xp.astype(new, idt)) - 1
    return xp.take(dense, xp.astype(xp.searchsorted(srt, labels, side="left"), idt))


def instance_losses(sim: Array, targets: Array, gamma: float) -> Array:
    """Per row ``i``: ``CE(gamma * sim[i, :], targets[i]) = logsumexp(gamma * sim[i]) - gamma * sim[i, t_i]``.

    Examples
    --------
    >>> import numpy as np
    >>> instance_losses(np.eye(2), np.array([0, 1]), 1.0).round(4).tolist()
    [0.3133, 0.3133]
    """
    xp, _ = namespace_and_device(sim)
    z = gamma * sim
    lse = logsumexp(z, add_one=False, dim=1)[:, 0]
    picked = xp.take_along_axis(z, xp.reshape(targets, (-1, 1)), axis=1)[:, 0]
    return lse - picked


class InstanceLoss(BaseMetricLossFunction):
    """Instance loss (Zheng et al. 2020), PML's ``InstanceLoss(gamma=64)``.

    Per row: :func:`instance_losses` of ``gamma * cos(x_i, x_j)`` over the batch, with the
    target column the rank of the row's label among the batch's distinct labels (PML's
    ``unique(labels, return_inverse=True)``; meaningful when labels are instance ids that
    index the batch). Requires :class:`CosineSimilarity` (default) and labels; no
    ``indices_tuple``, no ``ref_emb``. Element losses, default reducer :class:`MeanReducer`.
    O(N^2) memory.

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.losses import InstanceLoss
    >>> emb = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-0.6, 0.8]])
    >>> round(float(InstanceLoss(gamma=4)(emb, [0, 1, 2, 3])), 4)
    0.4487
    """

    def __init__(self, gamma: float = 64, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check_distance(CosineSimilarity)
        self.gamma = gamma

    def get_default_reducer(self) -> BaseReducer:
        return MeanReducer()

    def get_default_distance(self) -> BaseDistance:
        return CosineSimilarity()

    def compute_loss(self, embeddings: Array, labels: Array, indices_tuple: Any, ref_emb: Array, ref_labels: Array) -> dict:
        owner = type(self).__name__
        labels_required(labels, owner)
        indices_tuple_not_supported(indices_tuple, owner)
        ref_not_supported(embeddings, ref_emb, owner)
        xp, device = namespace_and_device(embeddings)
        sim = self.distance(embeddings)
        losses = instance_losses(sim, label_ranks(labels), self.gamma)
        idx = xp.arange(losses.shape[0], dtype=index_dtype(xp, device), device=device)
        return {"loss": {"losses": losses, "indices": idx, "reduction_type": "element"}}
