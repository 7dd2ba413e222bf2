"""SmoothAPLoss: one minus a sigmoid-smoothed average precision per query."""

from __future__ import annotations

import math
from typing import Any

from .._array_api import index_dtype, namespace_and_device, requires_grad, to_numpy
from ..distances import BaseDistance, CosineSimilarity
from ..tuples import convert_to_weights
from ._linearize import linearized
from ._soft_rank import class_members, soft_rank_vjp, soft_ranks
from ._unsupported import labels_required, ref_not_supported
from .base import BaseMetricLossFunction

Array = Any


def smooth_ap_losses(sim: Array, labels: Array, temperature: float = 0.01) -> Array:
    """Per query ``q``: ``1 - AP_q`` with the sigmoid-smoothed AP of Brown et al. (2020).

    With ``P_q`` the rows of ``q``'s label (``q`` included, as in the original code and
    PML), ``sigma(x) = 1 / (1 + exp(-x / temperature))`` and, for ``l`` in ``P_q``,

    - ``R_all[q, l] = 1 + sum_{k != l} sigma(s_qk - s_ql)`` (rank among all rows),
    - ``R_pos[q, l] = 1 + sum_{k in P_q, k != l} sigma(s_qk - s_ql)`` (rank among ``P_q``),

    ``AP_q = mean_{l in P_q} R_pos[q, l] / R_all[q, l]``.

    Memory: O(N^2) plus a bounded block; PML holds several N^3 tensors. Time O(N^2 * g)
    for the class size g (PML: N^3). The gradient is exact (first order); the result is
    linearised in ``sim`` (:mod:`agnostic_ml.losses._linearize`).

    Examples
    --------
    >>> import numpy as np
    >>> s = np.array([[1.0, 0.8, 0.1], [0.8, 1.0, 0.3], [0.1, 0.3, 1.0]])
    >>> smooth_ap_losses(s, np.array([0, 0, 1])).round(4).tolist()
    [0.0, 0.0, 0.0]
    """
    xp, _ = namespace_and_device(sim)
    idx, valid = class_members(labels, sim)  # P_q as columns (padded to the largest class)
    validf = xp.astype(valid, sim.dtype)
    items = xp.take_along_axis(sim, idx, axis=1)
    n_pos = xp.sum(validf, axis=1)
    everyone = xp.ones_like(sim)
    # 1 + sum over k != l: the k == l term of the sum over all k is sigma(0) = 1/2.
    r_all = 0.5 + soft_ranks(items, sim, everyone, temperature)
    r_pos = 0.5 + soft_ranks(items, items, valid, temperature)
    w = validf / n_pos[:, None]
    losses = 1 - xp.sum(w * r_pos / r_all, axis=1)
    if not requires_grad(sim):
        return losses
    g_items, g_sim = soft_rank_vjp(items, sim, everyone, w * r_pos / (r_all * r_all), temperature)
    g_items2, g_comp = soft_rank_vjp(items, items, valid, -w / r_all, temperature)
    return linearized(losses, [(g_items + g_items2 + g_comp, items), (g_sim, sim)], axis=1)


def check_equal_class_sizes(labels: Array, owner: str) -> None:
    """PML's requirement: every class of the batch has the same number of rows (ValueError)."""
    import numpy as np

    host = to_numpy(labels)
    _, counts = np.unique(host, return_counts=True)
    if np.unique(counts).shape[0] > 1:
        raise ValueError(
            f"{owner} needs the same number of rows for every class in labels; the batch has class sizes "
            f"{counts.tolist()}. Build batches with samplers.MPerClassSampler (batch_size divisible by m)."
        )


class SmoothAPLoss(BaseMetricLossFunction):
    """Smooth-AP loss (Brown et al. 2020), PML's ``SmoothAPLoss(temperature=0.01)``.

    Per query: ``1 - AP_q`` (:func:`smooth_ap_losses`), times the query's miner weight
    (``convert_to_weights`` of an ``indices_tuple``); element losses, default reducer
    :class:`MeanReducer`. Requires :class:`CosineSimilarity` (default) and labels; no
    ``ref_emb``.

    As in PML, every class of the batch must have the same number of rows (``ValueError``
    naming the class sizes; PML's message suggests ``MPerClassSampler``).

    **Difference from PML (a bug fix).** PML groups the rows into blocks of
    ``batch_size // num_classes`` *consecutive* rows but uses the per-class count as the
    number of blocks, so its positives are the right ones only when the batch is sorted by
    label *and* the number of classes equals the class size (e.g. 3 classes of 3). Here the
    positives of a query are the rows with its label, for any order of the batch; on
    batches where PML's grouping is right the values are PML's.

    **Memory.** O(N^2) plus a bounded block (PML: several N^3 tensors); only first-order
    gradients (see :mod:`agnostic_ml.losses._linearize`).

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.losses import SmoothAPLoss
    >>> emb = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-0.6, 0.8]])
    >>> round(float(SmoothAPLoss()(emb, [0, 1, 0, 1])), 4)
    0.2083
    """

    def __init__(self, temperature: float = 0.01, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check_distance(CosineSimilarity)
        if not (isinstance(temperature, (int, float)) and not isinstance(temperature, bool) and temperature > 0 and math.isfinite(temperature)):
            raise ValueError(f"temperature must be a positive number, got {temperature!r}")
        self.temperature = temperature

    def get_default_distance(self) -> BaseDistance:
        return CosineSimilarity()

    def compute_loss(self, embeddings: Array, labels: Array, indices_tuple: Any, ref_emb: Array, ref_labels: Array) -> dict:
        owner = type(self).__name__
        labels_required(labels, owner)
        ref_not_supported(embeddings, ref_emb, owner)
        check_equal_class_sizes(labels, owner)
        xp, device = namespace_and_device(embeddings)
        sim = self.distance(embeddings)
        losses = smooth_ap_losses(sim, labels, self.temperature)
        weights = convert_to_weights(indices_tuple, labels, dtype=losses.dtype, like=embeddings)
        idx = xp.arange(losses.shape[0], dtype=index_dtype(xp, device), device=device)
        return {"ap_loss": {"losses": losses * weights, "indices": idx, "reduction_type": "element"}}

    def _sub_loss_names(self) -> list[str]:
        return ["ap_loss"]
