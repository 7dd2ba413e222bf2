"""DynamicSoftMarginLoss: ``d_pos - d_neg`` weighted by its CDF in a running histogram."""

from __future__ import annotations

from typing import Any

from .._array_api import eye_mask, floating_work_dtype, namespace_and_device, no_grad, weighted_bincount
from ..distances import LpDistance
from ..tuples import convert_to_triplets
from ._histogram import interpolation
from ._linearize import stop_gradient
from ._math import gather_pairs
from .base import BaseMetricLossFunction

Array = Any


def descriptor_margins(mat: Array) -> Array:
    """PML's label-free mode: row ``i`` of the batch matches row ``i`` of the reference set.

    ``d_pos[i] = mat[i, i]`` and ``d_neg[i]`` the smallest off-diagonal entry of row ``i``
    or column ``i`` (the hardest in-batch negative of either side); returns
    ``d_pos - d_neg`` of length ``max(R, C)``, where entries past ``min(R, C)`` (and past a
    side's length) count as 0, as PML pads with zeros.

    Examples
    --------
    >>> import numpy as np
    >>> descriptor_margins(np.array([[0.1, 0.9], [0.7, 0.2]])).round(4).tolist()
    [-0.6, -0.5]
    """
    xp, device = namespace_and_device(mat)
    r, c = mat.shape
    big, small = max(r, c), min(r, c)
    eye = eye_mask(r, c, xp=xp, device=device)
    zero = xp.zeros_like(mat)
    diag = xp.sum(xp.where(eye, mat, zero), axis=1)[:small]
    inf = xp.asarray(float("inf"), dtype=mat.dtype, device=device)
    off = xp.where(eye, inf, mat)

    def pad(v: Array) -> Array:
        if v.shape[0] == big:
            return v
        return xp.concat([v, xp.zeros((big - v.shape[0],), dtype=mat.dtype, device=device)])

    d_pos = pad(diag)
    d_neg = xp.minimum(pad(xp.min(off, axis=0)), pad(xp.min(off, axis=1)))
    return d_pos - d_neg


def update_histogram(hist: Array, data: Array, *, min_val: float, delta: float, momentum: float) -> Array:
    """The running histogram after seeing ``data`` (PML's ``update_histogram``), differentiable in ``data``.

    Each value is split linearly between its two bins (``num_bins = len(hist)`` bins of
    width ``delta`` from ``min_val``); the batch's histogram enters with weight
    ``momentum`` (1 on the first batch, when ``hist`` sums to 0), then the result is
    normalised. Bin indices are clipped to the histogram (PML indexes past the end when
    ``data >= min_val + (num_bins - 1) * delta`` and raises).

    Examples
    --------
    >>> import numpy as np
    >>> update_histogram(np.zeros(4), np.array([-1.5, 0.5]), min_val=-2.0, delta=1.0, momentum=0.5).tolist()
    [0.25, 0.25, 0.25, 0.25]
    """
    xp, device = namespace_and_device(data)
    nb = hist.shape[0]
    k, w0, w1 = interpolation(data, min_val, delta, nb + 1)
    k_lo = xp.minimum(k, xp.full_like(k, nb - 1))
    k_hi = xp.minimum(k + 1, xp.full_like(k, nb - 1))
    total = xp.sum(hist)
    m = xp.where(total != 0, xp.asarray(momentum, dtype=hist.dtype, device=device), xp.ones_like(total))
    batch = weighted_bincount(xp.concat([k_lo, k_hi]), xp.concat([w0, w1]), nb, xp=xp)
    new = (1 - m) * hist + m * batch
    return new / xp.sum(new)


def weigh_by_cdf(hist: Array, data: Array, *, min_val: float, delta: float) -> Array:
    """``CDF(hist)[bin(data)] * data`` (bin indices clipped to the histogram).

    Examples
    --------
    >>> import numpy as np
    >>> weigh_by_cdf(np.array([0.5, 0.25, 0.25]), np.array([-0.5, 0.5]), min_val=-1.0, delta=1.0).tolist()
    [-0.25, 0.375]
    """
    xp, _ = namespace_and_device(data)
    cdf = xp.cumulative_sum(hist)
    k, _, _ = interpolation(data, min_val, delta, hist.shape[0] + 1)
    k = xp.minimum(k, xp.full_like(k, hist.shape[0] - 1))
    return xp.take(cdf, k) * data


class DynamicSoftMarginLoss(BaseMetricLossFunction):
    """CDF-based dynamic soft margin (Zhang & Rusinkiewicz 2019), PML's
    ``DynamicSoftMarginLoss(min_val=-2.0, num_bins=10, momentum=0.01)``.

    The values ``x = d_pos - d_neg`` are the triplets' ``d_ap - d_an`` (with labels: the
    miner's tuple or all triplets) or, without labels, :func:`descriptor_margins` (row
    ``i`` of ``embeddings`` matches row ``i`` of ``ref_emb``). The running histogram
    ``hist_`` of ``x`` (``num_bins`` bins of width ``2 |min_val| / num_bins`` from
    ``min_val``) is updated with ``momentum`` (:func:`update_histogram`), and the loss is
    ``mean(CDF[bin(x)] * x)``. Requires ``LpDistance(normalize_embeddings=True, p=2)``.
    Already reduced.

    ``hist_`` is state: the torch adapter registers it as a buffer (saved and restored by
    ``state_dict``; PML keeps it as a plain attribute, so PML's ``state_dict`` lacks it).
    It is None until the first batch (then it takes the batch's floating dtype, float32
    for half precision inputs). Its gradient flows within the batch (as PML's), but the
    stored histogram is detached.

    **Differences from PML (bug fixes).** (1) PML stores the histogram with the autograd
    graph of the batch that made it, so the *second* training step's ``backward`` raises
    "Trying to backward through the graph a second time"; here the stored state is
    detached. (2) PML indexes past the end of the histogram when some
    ``x >= min_val + (num_bins - 1) * delta`` (e.g. ``x >= 1.6`` with the defaults) and
    raises; here bin indices are clipped to the last bin.

    Memory: O(N*M) without labels; with labels and no miner, O(N*M + T) for the T
    triplets (listed in blocks by :func:`agnostic_ml.tuples.get_all_triplets_indices`; PML
    builds an N x M x M cube).

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.losses import DynamicSoftMarginLoss
    >>> emb = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-0.6, 0.8]])
    >>> loss = DynamicSoftMarginLoss()
    >>> round(float(loss(emb, [0, 1, 0, 1])), 4), loss.hist_.shape
    (0.2114, (10,))
    """

    _state_arrays = ("hist_",)

    def __init__(self, min_val: float = -2.0, num_bins: int = 10, momentum: float = 0.01, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check_distance(LpDistance, normalize_embeddings=True, p=2)
        if isinstance(num_bins, bool) or int(num_bins) != num_bins or int(num_bins) < 1:
            raise ValueError(f"num_bins must be a positive int, got {num_bins!r}")
        if not min_val < 0:
            raise ValueError(f"min_val must be negative (the bins span [min_val, -min_val]), got {min_val!r}")
        self.min_val = min_val
        self.num_bins = int(num_bins)
        self.delta = 2 * abs(min_val) / num_bins
        self.momentum = momentum
        self.hist_ = None

    def reset_histogram(self) -> None:
        """Forget the running histogram (the next batch starts it afresh)."""
        self.set_state("hist_", None)

    def compute_loss(self, embeddings: Array, labels: Array, indices_tuple: Any, ref_emb: Array, ref_labels: Array) -> dict:
        xp, device = namespace_and_device(embeddings)
        if labels is None:
            data = descriptor_margins(self.distance(embeddings, ref_emb))
        else:
            if ref_emb is not embeddings and ref_labels is None:
                raise ValueError(f"{type(self).__name__}: ref_emb was given with labels but without ref_labels")
            a, p, n = convert_to_triplets(indices_tuple, labels, ref_labels, t_per_anchor="all", like=embeddings)
            if a.shape[0] == 0:
                return self.zero_losses()
            mat = self.distance(embeddings, ref_emb)
            data = gather_pairs(mat, a, p) - gather_pairs(mat, a, n)
        if data.shape[0] == 0:
            return self.zero_losses()
        hist = self._current_histogram(xp, device, data.dtype)
        hist = update_histogram(hist, data, min_val=self.min_val, delta=self.delta, momentum=self.momentum)
        self.set_state("hist_", stop_gradient(hist))
        loss = xp.mean(weigh_by_cdf(hist, data, min_val=self.min_val, delta=self.delta))
        return {"loss": {"losses": loss, "indices": None, "reduction_type": "already_reduced"}}

    def _current_histogram(self, xp: Any, device: Any, dtype: Any) -> Array:
        work = floating_work_dtype(dtype, xp)
        h = self.hist_
        if h is None:
            return xp.zeros((self.num_bins,), dtype=work, device=device)
        with no_grad(xp):
            h = self.param_like(h, xp.zeros((1,), dtype=work, device=device))
        return h if h.dtype == work else xp.astype(h, work)
