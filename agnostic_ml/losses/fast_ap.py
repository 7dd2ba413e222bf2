"""FastAPLoss: average precision from histograms of the distances to positives and negatives."""

from __future__ import annotations

from typing import Any

from .._array_api import namespace_and_device, nonzero, to_numpy
from ..distances import BaseDistance, LpDistance
from ..tuples import convert_to_weights, get_matches_and_diffs
from ._histogram import row_histograms
from ._unsupported import labels_required, ref_not_supported
from .base import BaseMetricLossFunction

Array = Any


def fast_ap(
    dist: Array, pos_mask: Array, neg_mask: Array, num_bins: int, histogram_max: float
) -> tuple[Array, Array, Array]:
    """Per query ``i``: FastAP (Cakir et al. 2019) over ``num_bins`` bins of ``[0, histogram_max]``.

    With the interpolated histograms ``h+`` / ``h-`` of row ``i``'s distances to its
    positives / negatives over the ``num_bins + 1`` bin centres, ``H+ = cumsum(h+)`` and
    ``H = cumsum(h+ + h-)``:
    ``FastAP_i = sum_b h+_b H+_b / H_b / |P_i|`` (bins with ``h+_b H+_b = 0`` or ``H_b = 0``
    count 0). Returns ``(FastAP, has_positive, any_bin_counts)``, the last a 0-D bool
    (PML returns the zero loss when no bin counts anywhere). O(N * M) memory (PML: num_bins + 1 N x N
    tensors of kernel values).

    Examples
    --------
    >>> import numpy as np
    >>> d = np.array([[0.0, 0.5, 3.0], [0.5, 0.0, 3.0], [3.0, 3.0, 0.0]])
    >>> pos = np.array([[0, 1, 0], [1, 0, 0], [0, 0, 0]], dtype=bool)
    >>> ap, keep, _ = fast_ap(d, pos, ~pos & ~np.eye(3, dtype=bool), 4, 4.0)
    >>> ap.round(4).tolist(), keep.tolist()
    ([1.0, 1.0, 0.0], [True, True, False])
    """
    xp, _ = namespace_and_device(dist)
    delta = histogram_max / num_bins
    posf = xp.astype(pos_mask, dist.dtype)
    negf = xp.astype(neg_mask, dist.dtype)
    h_pos = row_histograms(dist, posf, 0.0, delta, num_bins + 1)
    h_neg = row_histograms(dist, negf, 0.0, delta, num_bins + 1)
    total_pos = xp.cumulative_sum(h_pos, axis=1)
    total = xp.cumulative_sum(h_pos + h_neg, axis=1)
    prod = h_pos * total_pos
    safe = xp.logical_and(prod > 0, total > 0)
    per_bin = xp.where(safe, prod / xp.where(safe, total, xp.ones_like(total)), xp.zeros_like(total))
    n_pos = xp.sum(posf, axis=1)
    has_pos = n_pos > 0
    ap = xp.where(has_pos, xp.sum(per_bin, axis=1) / xp.where(has_pos, n_pos, xp.ones_like(n_pos)), xp.zeros_like(n_pos))
    return ap, has_pos, xp.any(safe)


class FastAPLoss(BaseMetricLossFunction):
    """FastAP loss (Cakir et al. 2019), PML's ``FastAPLoss(num_bins=10)``.

    Per query with a positive: ``(1 - FastAP_i) * w_i`` (:func:`fast_ap`), ``w`` the miner
    weights of an ``indices_tuple`` (``convert_to_weights``). The histogram spans
    ``[0, 2**power]`` (the range of the default ``LpDistance(power=2)`` on normalised
    embeddings). Requires ``LpDistance(normalize_embeddings=True, p=2)``; labels; no
    ``ref_emb``. Element losses, default reducer :class:`MeanReducer`. A batch where no
    bin has positive mass gives the zero loss (as PML).

    Memory O(N^2): each distance gives its two interpolation weights to a scatter-add
    (PML builds ``num_bins + 1`` N x N kernel tensors). Values and gradients are PML's; at a
    distance exactly on a bin centre the kernel's kink takes the one-sided derivative
    (PML's ``abs`` takes 0 there).

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.losses import FastAPLoss
    >>> emb = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-0.6, 0.8]])
    >>> round(float(FastAPLoss()(emb, [0, 1, 0, 1])), 4)
    0.5833
    """

    def __init__(self, num_bins: int = 10, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check_distance(LpDistance, normalize_embeddings=True, p=2)
        if isinstance(num_bins, bool) or int(num_bins) != num_bins or int(num_bins) < 1:
            raise ValueError(f"num_bins must be a positive int, got {num_bins!r}")
        self.num_bins = int(num_bins)
        self.num_edges = self.num_bins + 1

    def get_default_distance(self) -> BaseDistance:
        return LpDistance(power=2)

    def compute_loss(self, embeddings: Array, labels: Array, indices_tuple: Any, ref_emb: Array, ref_labels: Array) -> dict:
        owner = type(self).__name__
        labels_required(labels, owner)
        ref_not_supported(embeddings, ref_emb, owner)
        xp, _ = namespace_and_device(embeddings)
        weights = convert_to_weights(indices_tuple, labels, dtype=embeddings.dtype, like=embeddings)
        matches, diffs = get_matches_and_diffs(labels, like=embeddings)
        dist = self.distance(embeddings)
        ap, has_pos, any_safe = fast_ap(dist, matches, diffs, self.num_bins, 2.0**self.distance.power)
        keep_any = xp.logical_and(xp.any(has_pos), any_safe)
        if not bool(to_numpy(keep_any)):
            return self.zero_losses()
        (idx,) = nonzero(has_pos, xp=xp)
        losses = xp.take((1 - ap) * weights, idx)
        return {"loss": {"losses": losses, "indices": idx, "reduction_type": "element"}}
