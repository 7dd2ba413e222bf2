"""HistogramLoss: the probability that a negative pair is more similar than a positive pair."""

from __future__ import annotations

from typing import Any

from .._array_api import index_dtype, namespace_and_device, weighted_bincount
from ..distances import BaseDistance, CosineSimilarity
from ..tuples import get_matches_and_diffs
from ._histogram import histogram
from ._math import pair_mask
from ._unsupported import ref_not_supported
from .base import BaseMetricLossFunction
from .generic_pair import labels_or_indices_tuple_required

Array = Any


def histogram_loss(sim: Array, pos_pairs: Array, neg_pairs: Array, delta: float) -> Array:
    """``sum_r p_neg[r] * cumsum(p_pos)[r]`` (Ustinova & Lempitsky 2016).

    ``pos_pairs`` / ``neg_pairs`` are 0/1 masks over ``sim`` of the (unordered) pairs;
    ``p_pos`` / ``p_neg`` their similarities' linearly interpolated densities on the
    nodes ``-1, -1 + delta, ..., 1``. A similarity of exactly 1 (two identical
    embeddings), or just above it by rounding, falls on the last node (PML indexes past
    the end there). An empty set gives 0.

    Examples
    --------
    >>> import numpy as np
    >>> s = np.array([[1.0, 0.5, -0.5], [0.5, 1.0, 0.9], [-0.5, 0.9, 1.0]])
    >>> pos = np.array([[0, 1, 0], [0, 0, 0], [0, 0, 0]], dtype=float)
    >>> neg = np.array([[0, 0, 1], [0, 0, 1], [0, 0, 0]], dtype=float)
    >>> round(float(histogram_loss(s, pos, neg, 0.5)), 4)
    0.5
    """
    xp, device = namespace_and_device(sim)
    n_nodes = int(round(1 + 2 / delta))
    one = xp.ones((), dtype=sim.dtype, device=device)
    p_pos = histogram(sim, pos_pairs, -1.0, delta, n_nodes) / xp.maximum(xp.sum(pos_pairs), one)
    p_neg = histogram(sim, neg_pairs, -1.0, delta, n_nodes) / xp.maximum(xp.sum(neg_pairs), one)
    return xp.sum(p_neg * xp.cumulative_sum(p_pos))


def unordered_pair_mask(rows: Array, cols: Array, keep: Array | None, n: int, like: Array) -> Array:
    """0/1 (n, n) mask of the unordered pairs ``{rows[k], cols[k]}`` (at ``[min, max]``), each once.

    ``keep`` (bool per pair) drops pairs first. This is PML's ``filter_pairs`` (sort each
    pair, then ``unique``) as a mask.
    """
    xp, device = namespace_and_device(like)
    lo = xp.minimum(rows, cols)
    hi = xp.maximum(rows, cols)
    idt = index_dtype(xp, device)
    flat = xp.astype(lo, idt) * n + xp.astype(hi, idt)
    w = xp.ones(flat.shape, dtype=like.dtype, device=device)
    if keep is not None:
        w = xp.astype(keep, like.dtype)
    counts = xp.reshape(weighted_bincount(flat, w, n * n, xp=xp), (n, n))
    return xp.astype(counts > 0, like.dtype)


class HistogramLoss(BaseMetricLossFunction):
    """Histogram loss (Ustinova & Lempitsky 2016), PML's ``HistogramLoss(n_bins=None, delta=None)``.

    ``delta = 2 / n_bins`` (``n_bins`` 100 when neither is given; both given must satisfy
    ``delta == 2 / n_bins``). The positive and negative pairs are those of the triplets
    (``convert_to_triplets``: the miner's triplets, a pair tuple combined per anchor, or all
    triplets), each unordered pair once; the loss is :func:`histogram_loss` of their
    similarities (default distance :class:`CosineSimilarity`). Already reduced. No
    ``ref_emb``.

    **Differences from PML (bug fixes).** A similarity of exactly 1 (two identical
    embeddings) and, in float64, any similarity that rounds to 1 in float32 (PML bins in
    float32) crash PML with an index error; here the bin index is computed in the input's
    dtype and clipped to the grid, so the loss and its gradient are finite. Without a
    miner no triplet is listed: the pairs that occur in some triplet are read off the
    label masks (O(N^2) memory; PML lists all O(N^3) triplets).

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.losses import HistogramLoss
    >>> emb = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-0.6, 0.8]])
    >>> round(float(HistogramLoss(n_bins=10)(emb, [0, 1, 0, 1])), 4)
    0.75
    """

    def __init__(self, n_bins: int | None = None, delta: float | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if n_bins is not None and (isinstance(n_bins, bool) or int(n_bins) != n_bins or n_bins < 1):
            raise ValueError(f"n_bins must be a positive int, got {n_bins!r}")
        if delta is not None and not (isinstance(delta, (int, float)) and not isinstance(delta, bool) and 0 < delta <= 2):
            raise ValueError(f"delta must be a number in (0, 2], got {delta!r}")
        if delta is not None and n_bins is not None and delta != 2 / n_bins:
            raise ValueError(
                f"delta and n_bins must satisfy delta = 2 / n_bins; got delta={delta} and n_bins={n_bins}"
            )
        if delta is None and n_bins is None:
            n_bins = 100
        self.delta = delta if delta is not None else 2 / n_bins

    def get_default_distance(self) -> BaseDistance:
        return CosineSimilarity()

    def compute_loss(self, embeddings: Array, labels: Array, indices_tuple: Any, ref_emb: Array, ref_labels: Array) -> dict:
        owner = type(self).__name__
        labels_or_indices_tuple_required(labels, indices_tuple, owner)
        ref_not_supported(embeddings, ref_emb, owner)
        pos, neg = self._pair_masks(labels, indices_tuple, embeddings)
        sim = self.distance(embeddings)
        loss = histogram_loss(sim, pos, neg, self.delta)
        return {"loss": {"losses": loss, "indices": None, "reduction_type": "already_reduced"}}

    def _pair_masks(self, labels: Array, indices_tuple: Any, like: Array) -> tuple[Array, Array]:
        """The unordered positive and negative pairs of ``convert_to_triplets``' triplets, as masks."""
        xp, device = namespace_and_device(like)
        n = like.shape[0]
        if indices_tuple is None:
            matches, diffs = get_matches_and_diffs(labels, like=like)
            has_pos = xp.any(matches, axis=1)
            has_neg = xp.any(diffs, axis=1)
            # (a, p) is in a triplet iff a has a negative; (a, n) iff a has a positive.
            pos = xp.logical_and(matches, has_neg[:, None])
            neg = xp.logical_and(diffs, has_pos[:, None])
            # Unordered: keep {i, j} at [min, max] (i < j) if either orientation occurs.
            ids = xp.arange(n, dtype=index_dtype(xp, device), device=device)
            upper = xp.reshape(ids, (n, 1)) < xp.reshape(ids, (1, n))
            pos = xp.logical_and(xp.logical_or(pos, xp.matrix_transpose(pos)), upper)
            neg = xp.logical_and(xp.logical_or(neg, xp.matrix_transpose(neg)), upper)
            return xp.astype(pos, like.dtype), xp.astype(neg, like.dtype)
        if len(indices_tuple) == 3:
            a, p, ng = indices_tuple
            return (
                unordered_pair_mask(a, p, None, n, like),
                unordered_pair_mask(a, ng, None, n, like),
            )
        a1, p, a2, ng = indices_tuple
        # Pairs become triplets per shared anchor: a pair survives iff its anchor has a pair
        # of the other kind.
        in_a2 = pair_mask(a2, xp.zeros_like(a2), (n, 1), like)[:, 0] > 0
        in_a1 = pair_mask(a1, xp.zeros_like(a1), (n, 1), like)[:, 0] > 0
        return (
            unordered_pair_mask(a1, p, xp.take(in_a2, a1), n, like),
            unordered_pair_mask(a2, ng, xp.take(in_a1, a2), n, like),
        )
