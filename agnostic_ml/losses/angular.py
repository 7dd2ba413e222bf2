"""AngularLoss (Wang et al. 2017): an angle bound at the negative, per positive pair."""

from __future__ import annotations

import math
from typing import Any

from .._array_api import namespace_and_device, no_grad
from ..distances import LpDistance
from ..tuples import convert_to_pairs, logsumexp
from ._math import gather_pairs, softplus
from ._precision import at_least_float32
from .base import BaseMetricLossFunction

Array = Any

#: Pairs x references per block of the average-angle statistic (computed without autograd).
STATS_BLOCK = 1 << 22


def angular_losses(anchors: Array, refs: Array, a: Array, p: Array, neg_mask: Array, sq_tan_alpha: float) -> Array:
    """Per positive pair ``k = (a_k, p_k)``: ``log(1 + sum_n exp(f_kn))`` over ``n`` with ``neg_mask[a_k, n]``.

    ``f_kn = 4 tan^2(alpha) (x_a + y_p) . y_n - 2 (1 + tan^2(alpha)) x_a . y_p`` with
    ``x = anchors`` (N, D) and ``y = refs`` (M, D), both already L2-normalised; ``n``
    ranges over *all* references whose label differs from the anchor's (``neg_mask``,
    (N, M) boolean), not only mined negatives. A pair without such ``n`` gives 0.

    **O(N*M + M*M) memory**, not O(P*M): with ``u = 4t x y^T`` and ``v = 4t y y^T``,
    ``sum_n mask[a, n] e^{u[a, n] + v[p, n]} = (mask * e^{u - mu}) @ (e^{v - mv})^T [a, p] * e^{mu_a + mv_p}``
    (one GEMM, shifted by each row's maximum). On unit vectors ``u - mu`` and ``v - mv``
    lie in ``[-8 tan^2(alpha), 0]``, so the largest shifted term is at least
    ``exp(-16 tan^2(alpha))`` and cannot underflow while that is inside the dtype's range:
    alpha up to ~65 degrees in float32 (~81 in float64). Beyond that, the direct P x M
    form is used.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]])
    >>> mask = np.array([[False, False, True], [False, False, True], [True, True, False]])
    >>> angular_losses(x, x, np.array([0, 1]), np.array([1, 0]), mask, 0.7).round(4).tolist()
    [0.7981, 0.7981]
    """
    xp, device = namespace_and_device(anchors, refs)
    x = at_least_float32(anchors)
    y = at_least_float32(refs)
    same = anchors is refs
    c1 = 4.0 * sq_tan_alpha
    c2 = 2.0 * (1.0 + sq_tan_alpha)
    xy = xp.matmul(x, xp.matrix_transpose(y))
    ap = gather_pairs(xy, a, p)
    yy = xy if same else xp.matmul(y, xp.matrix_transpose(y))
    u = c1 * xy
    v = c1 * yy
    tiny_log = -math.log(float(xp.finfo(u.dtype).smallest_normal))
    has_neg = xp.take(xp.any(neg_mask, axis=1), a)
    if 4.0 * c1 < 0.9 * tiny_log:
        low = xp.asarray(float(xp.finfo(u.dtype).min), dtype=u.dtype, device=device)
        with no_grad(xp):
            mu = xp.max(xp.where(neg_mask, u, low), axis=1, keepdims=True)
            mu = xp.where(xp.any(neg_mask, axis=1, keepdims=True), mu, xp.zeros_like(mu))
            mv = xp.max(v, axis=1, keepdims=True)
        # Left-out entries never reach exp (no overflow, no NaN gradient through the where).
        left = xp.where(neg_mask, xp.exp(xp.where(neg_mask, u - mu, xp.zeros_like(u))), xp.zeros_like(u))
        s = xp.matmul(left, xp.matrix_transpose(xp.exp(v - mv)))
        s_k = gather_pairs(s, a, p)
        lse = xp.take(xp.reshape(mu, (-1,)), a) + xp.take(xp.reshape(mv, (-1,)), p)
        lse = lse + xp.log(xp.where(has_neg, s_k, xp.ones_like(s_k)))
        losses = softplus(lse - c2 * ap)
        return xp.where(has_neg, losses, xp.zeros_like(losses))
    # Wide exponents: the direct P x M form.
    f = xp.take(u, a, axis=0) + xp.take(v, p, axis=0) - c2 * ap[:, None]
    keep = xp.take(neg_mask, a, axis=0)
    return xp.reshape(logsumexp(f, keep_mask=keep, add_one=True, dim=1), (-1,))


class AngularLoss(BaseMetricLossFunction):
    """Angular loss, PML's ``AngularLoss(alpha=40)``.

    ``alpha`` is given in degrees and stored in radians (``self.alpha``, as PML does). For
    each positive pair ``(a, p)`` (from ``indices_tuple``, or all of them):
    ``L = log(1 + sum_n exp(4 tan^2(alpha) (x_a + x_p) . x_n - 2 (1 + tan^2(alpha)) x_a . x_p))``
    where ``n`` ranges over every reference whose label differs from the anchor's (the
    tuple's negatives only decide whether there is anything to compute, as in PML), see
    :func:`angular_losses`. Needs labels (and ``ref_labels`` with ``ref_emb``). The distance
    must be ``LpDistance(p=2, power=1, normalize_embeddings=True)`` (the default; anything
    else raises ``ValueError``); reducer :class:`MeanReducer` (reduction ``"pos_pair"``).
    With ``collect_stats``, ``average_angle`` (degrees, a 0-D array) is recorded.

    **Memory**: O(N*M + M*M) (one GEMM, see :func:`angular_losses`); PML's broadcast
    ``matmul`` builds P x M (and copies P x M x D when it expands the anchors).

    Difference from PML (a fix): PML normalises the anchors and positives but uses the
    *raw* reference rows as negatives (a regression from PML 0.9, where every embedding
    was normalised before the loss), so its loss depends on the negatives' norms. Here the
    negatives are normalised too; on unit-norm inputs the two agree in value and gradient.

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.losses import AngularLoss
    >>> emb = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-0.6, 0.8]])
    >>> round(float(AngularLoss()(emb, [0, 0, 1, 1])), 4)
    0.3124
    """

    def __init__(self, alpha: float = 40, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check_distance(LpDistance, p=2, power=1, normalize_embeddings=True)
        self.alpha = math.radians(alpha)

    def compute_loss(self, embeddings: Array, labels: Array, indices_tuple: Any, ref_emb: Array, ref_labels: Array) -> dict:
        owner = type(self).__name__
        if labels is None:
            raise ValueError(f"{owner} needs labels (its negatives are every reference with another label)")
        if ref_emb is not embeddings and ref_labels is None:
            raise ValueError(f"{owner}: ref_emb was given without ref_labels; pass ref_labels too")
        anchors, refs, neg_mask, a1, p = self.get_pairs(embeddings, labels, indices_tuple, ref_emb, ref_labels)
        if anchors is None:
            return self.zero_losses()
        losses = angular_losses(anchors, refs, a1, p, neg_mask, math.tan(self.alpha) ** 2)
        return {"loss": {"losses": losses, "indices": (a1, p), "reduction_type": "pos_pair"}}

    def get_pairs(self, embeddings: Array, labels: Array, indices_tuple: Any, ref_emb: Array, ref_labels: Array):
        """``(normalised embeddings, normalised refs, negatives mask, a1, p)``, or five Nones if there is no pair."""
        xp, _ = namespace_and_device(embeddings)
        a1, p, a2, _ = convert_to_pairs(indices_tuple, labels, ref_labels, like=embeddings)
        if a1.shape[0] == 0 or a2.shape[0] == 0:
            return (None,) * 5
        anchors = self.distance.normalize(at_least_float32(embeddings))
        refs = anchors if ref_emb is embeddings else self.distance.normalize(at_least_float32(ref_emb))
        neg_mask = xp.expand_dims(labels, axis=1) != xp.expand_dims(ref_labels, axis=0)
        self.set_stats(anchors, refs, a1, p, neg_mask)
        return anchors, refs, neg_mask, a1, p

    def set_stats(self, anchors: Array, refs: Array, a1: Array, p: Array, neg_mask: Array) -> None:
        """``average_angle``: mean over (pair, negative) of ``atan(|x_a - x_p| / (2 |c - x_n|))``, ``c`` the pair's centre."""
        if not self.collect_stats:
            return
        xp, device = namespace_and_device(anchors)
        with no_grad(xp):
            xa = xp.take(anchors, a1, axis=0)
            xq = xp.take(refs, p, axis=0)
            centers = (xa + xq) / 2
            ap_dist = self.distance.pairwise_distance(xa, xq)
            keep = xp.take(neg_mask, a1, axis=0)
            rr = xp.sum(refs * refs, axis=1)
            total = xp.zeros((), dtype=anchors.dtype, device=device)
            step = max(1, STATS_BLOCK // max(1, refs.shape[0]))
            for s in range(0, a1.shape[0], step):
                c = centers[s : s + step, ...]
                sq = xp.sum(c * c, axis=1)[:, None] + rr[None, :] - 2 * xp.matmul(c, xp.matrix_transpose(refs))
                nc = xp.sqrt(xp.clip(sq, min=0.0))
                ang = xp.atan(ap_dist[s : s + step, None] / (2 * nc))
                total = total + xp.sum(xp.where(keep[s : s + step, ...], ang, xp.zeros_like(ang)))
            count = xp.sum(xp.astype(keep, total.dtype))
            self.record(average_angle=total / count * (180.0 / math.pi))
