"""ClassWeightedReducer: the mean of the losses weighted by the anchor's class."""

from __future__ import annotations

from typing import Any

from .._array_api import follow, index_dtype, namespace_and_device, to_numpy
from .._checks import check_index_range
from .._typing import Array
from .base import BaseReducer


class ClassWeightedReducer(BaseReducer):
    """``mean_k(L_k * weights[labels[i_k]])`` (PML's ``ClassWeightedReducer``).

    ``i_k`` is the element index (``element``) or the anchor, the first index array
    (pairs and triplets). ``weights`` is indexed by label *value*, so labels must be
    integer class ids in ``[0, len(weights))``: a label outside that range (PML silently
    reads ``weights[-1]`` for -1, or fails with a bare IndexError) raises ``ValueError``
    naming ``labels`` (one host sync per call). ``weights`` (host data or an array of the
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
        n, c = lab.shape[0], w.shape[0]
        if n == 0 or c == 0:
            raise ValueError(f"ClassWeightedReducer: got {n} labels and {c} weights for {losses.shape[0]} losses")
        # One host sync for the three checks: the (clipped) gather cannot fail before it.
        idx_ok = xp.logical_and(xp.min(idx) >= 0, xp.max(idx) < n)
        raw = xp.take(lab, xp.clip(idx, 0, n - 1))
        is_int = xp.all(raw == xp.floor(raw)) if xp.isdtype(raw.dtype, "real floating") else xp.asarray(True, device=device)
        cls = raw if raw.dtype == idt else xp.astype(raw, idt)
        cls_ok = xp.logical_and(xp.min(raw) >= 0, xp.max(raw) < c)
        flags = [bool(f) for f in to_numpy(xp.stack([idx_ok, is_int, cls_ok])).tolist()]
        if not flags[0]:
            check_index_range(idx, n, "loss indices (anchors)", xp=xp, what="rows of labels")
        if not flags[1]:
            raise ValueError("labels must be integer class ids (they index weights), got non-integer values")
        if not flags[2]:
            check_index_range(cls, c, "labels", xp=xp, what=f"class ids indexing weights, len(weights) = {c}")
        return xp.mean(losses * xp.take(w, cls))
