"""LargeMarginSoftmaxLoss and SphereFaceLoss: softmax over classes with a multiplicative angular margin.

The margin-softmax family scores each embedding against the columns of a learnable
``W`` of shape ``(embedding_size, num_classes)``: ``cos(theta_ij)`` is the cosine between
embedding ``i`` and class ``j``. The target class's cosine is replaced by a harder one
(here ``psi(theta) = (-1)^k cos(m theta) - 2k``), the logits are scaled, and the loss is the
cross-entropy with the labels. :mod:`.arcface` and :mod:`.cosface` change only the target
function and the scale.
"""

from __future__ import annotations

import math
from typing import Any

from .._array_api import namespace_and_device, no_grad, vector_norm
from ..distances import BaseDistance, CosineSimilarity
from ._classification import (
    check_feature_size,
    check_positive_int,
    class_labels,
    cross_entropy,
    miner_weights,
    one_hot,
    per_sample_loss_dict,
    ref_not_supported,
    regularize_class_weights,
    take_target,
    weight_and_embeddings,
)
from .base import BaseMetricLossFunction, WeightRegularizerMixin

Array = Any

__all__ = [
    "LargeMarginSoftmaxLoss",
    "SphereFaceLoss",
    "large_margin_target",
    "margin_logits",
    "multiple_angle_cos",
]


def multiple_angle_cos(cos: Array, margin: int) -> Array:
    """``cos(m * theta)`` from ``c = cos(theta)`` by the multiple-angle formula.

    ``cos(m theta) = sum_{n=0}^{m // 2} (-1)^n C(m, 2n) c^(m - 2n) (1 - c^2)^n``
    (equation 7 of Liu et al. 2016, https://arxiv.org/abs/1612.02295). A polynomial, so
    its gradient is finite at ``c = +-1`` (``acos`` is not).

    Examples
    --------
    >>> import numpy as np
    >>> c = np.cos(np.array([0.3, 1.0]))
    >>> bool(np.allclose(multiple_angle_cos(c, 3), np.cos(3 * np.array([0.3, 1.0]))))
    True
    """
    xp, _ = namespace_and_device(cos)
    sin2 = 1 - cos**2
    out = None
    for n in range(margin // 2 + 1):
        term = float((-1) ** n * math.comb(margin, 2 * n))
        p = margin - 2 * n
        factor = cos**p if p else None
        if n:
            factor = sin2**n if factor is None else factor * sin2**n
        term = term * (factor if factor is not None else xp.ones_like(cos))
        out = term if out is None else out + term
    return out


def large_margin_target(cos: Array, angles: Array, margin: int) -> Array:
    """The target-class logit of L-Softmax: ``psi(theta) = (-1)^k cos(m theta) - 2k``.

    ``k = floor(theta / (pi / m))`` (equation 6 of the paper: ``theta`` in
    ``[k pi / m, (k + 1) pi / m]``) carries no gradient; ``psi`` is monotonically decreasing
    in ``theta`` on ``[0, pi]``. ``angles = acos(clip(cos, -1, 1))``.

    Examples
    --------
    >>> import numpy as np
    >>> theta = np.array([0.2, 1.5])
    >>> large_margin_target(np.cos(theta), theta, 2).round(4).tolist()
    [0.9211, -0.99]
    """
    xp, _ = namespace_and_device(cos)
    with no_grad(xp):
        k = xp.floor(angles / (math.pi / margin))
        sign = 1 - 2 * xp.remainder(k, 2.0)
    return sign * multiple_angle_cos(cos, margin) - 2 * k


def margin_logits(cosine: Array, labels: Array, target: Array) -> Array:
    """``cosine`` with the target class's entry of each row replaced by ``target`` (PML's ``cosine + mask * diff``).

    Examples
    --------
    >>> import numpy as np
    >>> margin_logits(np.array([[0.5, 0.1]]), np.array([0]), np.array([0.2])).tolist()
    [[0.2, 0.1]]
    """
    xp, _ = namespace_and_device(cosine)
    mask = xp.astype(one_hot(labels, cosine.shape[1], cosine), cosine.dtype)
    diff = target - take_target(cosine, labels)
    return cosine + mask * xp.expand_dims(diff, axis=1)


class LargeMarginSoftmaxLoss(WeightRegularizerMixin, BaseMetricLossFunction):
    """Large-margin softmax (L-Softmax, Liu et al. 2016), PML's ``LargeMarginSoftmaxLoss(num_classes, embedding_size, margin=4, scale=1)``.

    Per embedding ``x_i`` with label ``y_i``, with ``cos_ij`` the cosine between ``x_i`` and
    column ``j`` of ``W`` (``(embedding_size, num_classes)``, learnable):

    ``logits_ij = s * ||x_i|| * ||W_j|| * (psi(theta_iy) if j == y_i else cos_ij)``,
    ``psi(theta) = (-1)^k cos(m theta) - 2k``, ``k = floor(m theta / pi)``, and
    ``loss_i = w_i * cross_entropy(logits_i, y_i)``, where ``w_i`` are the miner weights
    (PML's ``convert_to_weights``: how often ``i`` occurs in ``indices_tuple``, over the
    maximum; 1 without a tuple). Element losses, default reducer :class:`MeanReducer`.

    Parameters
    ----------
    num_classes, embedding_size : int
        ``W`` has shape ``(embedding_size, num_classes)``, initialised by
        ``weight_init_func`` (default ``torch.nn.init.normal_``, as PML).
    margin : int, default 4
        The multiplicative angular margin ``m`` (cast to int, as PML).
    scale : float, default 1
    **kwargs
        ``distance`` (must be :class:`CosineSimilarity`, the default), ``reducer``,
        ``embedding_regularizer``, ``embedding_reg_weight``, ``collect_stats``
        (records ``avg_angle``, the mean target angle in degrees, as a 0-D array).

    Other Parameters
    ----------------
    weight_regularizer : BaseRegularizer, optional
        PML's ``weight_regularizer``: it sees ``W.T`` (one row per class).
    weight_reg_weight : float, default 1
        ``weight_reg_loss = weight_regularizer(...) * weight_reg_weight``.
    weight_init_func : callable, optional
        Initialises the weights in place (PML's ``weight_init_func``); default: this loss's own
        initialisation (above).

    Notes
    -----
    Differences from PML: ``W`` is never cast in place (float64 embeddings are computed
    against an out-of-place float64 copy of the float32 weights; half-precision embeddings
    against the float32 weights, PML#309), the cross-entropy is computed in float32 or
    wider, and embeddings of the wrong width or labels outside ``[0, num_classes)`` raise a
    ``ValueError`` naming ``embedding_size`` / ``num_classes``. Memory: a few
    ``(batch, num_classes)`` matrices.

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.losses import LargeMarginSoftmaxLoss
    >>> loss = LargeMarginSoftmaxLoss(num_classes=3, embedding_size=2, weight_init_func=None)
    >>> loss.W = np.array([[1.0, 0.0, -1.0], [0.0, 1.0, 0.0]], dtype=np.float32)
    >>> round(float(loss(np.array([[1.0, 0.1], [0.1, 1.0]]), [0, 1])), 4)
    0.5226
    """

    _learnable = ("W",)

    def __init__(self, num_classes: int, embedding_size: int, margin: float = 4, scale: float = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check_distance(CosineSimilarity)
        owner = type(self).__name__
        self.num_classes = check_positive_int(num_classes, "num_classes", owner)
        self.embedding_size = check_positive_int(embedding_size, "embedding_size", owner)
        self.margin = margin
        self.scale = scale
        self.init_margin()
        self.W = self.make_weight((self.embedding_size, self.num_classes))

    # -- PML's hooks ----------------------------------------------------------------------
    def init_margin(self) -> None:
        self.margin = int(self.margin)
        if self.margin < 1:
            raise ValueError(f"{type(self).__name__}: margin must be a positive int, got {self.margin}")

    def get_default_distance(self) -> BaseDistance:
        return CosineSimilarity()

    def get_cosine(self, embeddings: Array) -> Array:
        """``(batch, num_classes)`` cosines between the embeddings and the class weights."""
        xp, _ = namespace_and_device(embeddings)
        w, emb = weight_and_embeddings(self, self.W, embeddings)
        return self.distance(emb, xp.matrix_transpose(w))

    def get_angles(self, cosine_of_target_classes: Array) -> Array:
        xp, _ = namespace_and_device(cosine_of_target_classes)
        angles = xp.acos(xp.clip(cosine_of_target_classes, -1, 1))
        if self.collect_stats:
            with no_grad(xp):
                self.record(avg_angle=xp.mean(angles) * (180.0 / math.pi))
        return angles

    def get_cos_with_margin(self, cosine: Array) -> Array:
        return multiple_angle_cos(cosine, self.margin)

    def modify_cosine_of_target_classes(self, cosine_of_target_classes: Array) -> Array:
        angles = self.get_angles(cosine_of_target_classes)
        return large_margin_target(cosine_of_target_classes, angles, self.margin)

    def scale_logits(self, logits: Array, embeddings: Array) -> Array:
        xp, _ = namespace_and_device(logits)
        w, emb = weight_and_embeddings(self, self.W, embeddings)
        emb_norms = self.distance.get_norm(emb)
        w_norms = self.distance.get_norm(w, dim=0)
        return logits * (xp.expand_dims(w_norms, axis=0) * xp.expand_dims(emb_norms, axis=1)) * self.scale

    def get_logits(self, embeddings: Array) -> Array:
        """The scaled cosines without the margin (PML's ``get_logits``), e.g. for inference."""
        check_feature_size(self, embeddings, self.W.shape[0])
        return self.scale_logits(self.get_cosine(embeddings), embeddings)

    # -- the loss -------------------------------------------------------------------------
    def compute_loss(self, embeddings: Array, labels: Array, indices_tuple: Any, ref_emb: Array, ref_labels: Array) -> dict:
        lab = class_labels(self, labels, self.num_classes, embeddings)
        ref_not_supported(self, embeddings, labels, ref_emb, ref_labels)
        check_feature_size(self, embeddings, self.W.shape[0])
        xp, device = namespace_and_device(embeddings)
        weights = miner_weights(indices_tuple, lab, embeddings)
        cosine = self.get_cosine(embeddings)
        target = self.modify_cosine_of_target_classes(take_target(cosine, lab))
        logits = self.scale_logits(margin_logits(cosine, lab, target), embeddings)
        losses = cross_entropy(logits, lab) * weights
        loss_dict = per_sample_loss_dict(losses, lab)
        regularize_class_weights(self, loss_dict, self.W, embeddings, classes_on_rows=False)
        return loss_dict


class SphereFaceLoss(LargeMarginSoftmaxLoss):
    """SphereFace (A-Softmax, Liu et al. 2017), PML's ``SphereFaceLoss(num_classes, embedding_size, margin=4, scale=1)``.

    :class:`LargeMarginSoftmaxLoss` with the logits scaled by the embedding norms only
    (``s * ||x_i|| * ...``: the class weights act through their direction),
    https://arxiv.org/abs/1704.08063. Parameters, learnable ``W`` and differences from PML
    as :class:`LargeMarginSoftmaxLoss`.

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.losses import SphereFaceLoss
    >>> loss = SphereFaceLoss(num_classes=3, embedding_size=2)
    >>> loss.W = np.array([[1.0, 0.0, -1.0], [0.0, 1.0, 0.0]], dtype=np.float32)
    >>> round(float(loss(np.array([[1.0, 0.1], [0.1, 1.0]]), [0, 1])), 4)
    0.5226
    """

    def scale_logits(self, logits: Array, embeddings: Array) -> Array:
        xp, _ = namespace_and_device(logits)
        _, emb = weight_and_embeddings(self, self.W, embeddings)
        norms = vector_norm(emb, ord=2, axis=1, xp=xp)  # torch.norm's gradient at a zero row: 0, not NaN
        return logits * xp.expand_dims(norms, axis=1) * self.scale
