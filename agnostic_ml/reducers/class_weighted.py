"""ClassWeightedReducer: the mean of the losses weighted by the anchor's class."""

from __future__ import annotations

from typing import Any

from .._array_api import follow, index_dtype, namespace_and_device
from .._typing import Array
from .base import BaseReducer


class ClassWeightedReducer(BaseReducer):
    """``mean_k(L_k * weights[labels[i_k]])`` (PML's ``ClassWeightedReducer``).

    ``i_k`` is the element index (``element``) or the anchor, the first index array
    (pairs and triplets). ``weights`` is indexed by label *value*, so labels must be
    integer class ids in ``[0, len(weights))``. ``weights`` (host data or an array of the
    losses' library) and host ``labels`` are moved to the losses' namespace, device and
    dtype on each call; ``self.weights`` is left as given (PML overwrites it with the
    moved copy).

    Parameters
    ----------
    weights : array-like of shape (num_classes,)

    Examples
    --------
    >>> import numpy as np
    >>> r = ClassWeightedReducer([1.0, 3.0])
    >>> r({"l": {"losses": np.asarray([1.0, 1.0]), "indices": np.asarray([0, 1]),
    ...          "reduction_type": "element"}}, np.zeros((2, 2)), np.asarray([0, 1])).item()
    2.0
    """

    def __init__(self, weights: Any, collect_stats: bool = False) -> None:
        super().__init__(collect_stats=collect_stats)
        if weights is None:
            raise TypeError("ClassWeightedReducer needs weights (one per class), got None")
        self.weights = weights

    def element_reduction(self, losses: Array, loss_indices: Any, embeddings: Array, labels: Any, **kw: Any) -> Array:
        return self._weighted_mean(losses, loss_indices, embeddings, labels)

    def pos_pair_reduction(self, losses: Array, loss_indices: Any, embeddings: Array, labels: Any, **kw: Any) -> Array:
        return self._weighted_mean(losses, loss_indices[0], embeddings, labels)

    def neg_pair_reduction(self, losses: Array, loss_indices: Any, embeddings: Array, labels: Any, **kw: Any) -> Array:
        return self._weighted_mean(losses, loss_indices[0], embeddings, labels)

    def triplet_reduction(self, losses: Array, loss_indices: Any, embeddings: Array, labels: Any, **kw: Any) -> Array:
        return self._weighted_mean(losses, loss_indices[0], embeddings, labels)

    def _weighted_mean(self, losses: Array, idx: Array, embeddings: Array, labels: Any) -> Array:
        if labels is None:
            raise TypeError("ClassWeightedReducer needs labels, got None")
        xp, device = namespace_and_device(losses)
        w = follow(self.weights, xp=xp, device=device, name="weights", dtype=losses.dtype)
        if w.ndim != 1:
            raise ValueError(f"weights must be 1-D (one weight per class), got shape {tuple(w.shape)}")
        lab = follow(labels, xp=xp, device=device, name="labels")
        if lab.ndim != 1:
            raise ValueError(f"labels must be 1-D, got shape {tuple(lab.shape)}")
        if losses.shape[0] == 0:
            return self.zero_loss(embeddings, losses)
        idt = index_dtype(xp, device)
        cls = xp.take(lab, idx)
        cls = cls if cls.dtype == idt else xp.astype(cls, idt)
        return xp.mean(losses * xp.take(w, cls))
