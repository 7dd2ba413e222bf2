"""ProxyNCALoss: NCA (neighbourhood component analysis) against one learnable proxy per class."""

from __future__ import annotations

from typing import Any

from .._array_api import namespace_and_device
from ..distances import BaseDistance, LpDistance
from ._classification import (
    check_feature_size,
    check_positive_int,
    class_labels,
    cross_entropy,
    miner_weights,
    per_sample_loss_dict,
    ref_not_supported,
    regularize_class_weights,
    weight_and_embeddings,
)
from .base import BaseMetricLossFunction, WeightRegularizerMixin

Array = Any

__all__ = ["ProxyNCALoss", "proxy_nca_losses"]


def proxy_nca_losses(mat: Array, labels: Array, softmax_scale: float, is_inverted: bool) -> Array:
    """Per embedding ``-log softmax(softmax_scale * sim)[y_i]`` over the proxies.

    ``mat`` is the ``(batch, num_classes)`` matrix of the embeddings to the proxies;
    ``sim = mat`` for a similarity, ``-mat`` for a distance. Computed as a log-softmax (a
    row log-sum-exp), so a tiny probability gives a large finite loss.

    Examples
    --------
    >>> import numpy as np
    >>> proxy_nca_losses(np.array([[0.0, 1.0]]), np.array([0]), 1.0, False).round(4).tolist()
    [0.3133]
    """
    sim = mat if is_inverted else -mat
    return cross_entropy(softmax_scale * sim, labels)


class ProxyNCALoss(WeightRegularizerMixin, BaseMetricLossFunction):
    """Proxy-NCA (Movshovitz-Attias et al. 2017), PML's ``ProxyNCALoss(num_classes, embedding_size, softmax_scale=1)``.

    ``loss_i = -w_i log( exp(-s d(x_i, p_{y_i})) / sum_c exp(-s d(x_i, p_c)) )`` with the
    learnable proxies ``p`` of shape ``(num_classes, embedding_size)`` (``normal_`` init,
    or ``weight_init_func``), ``s = softmax_scale``, ``d`` the distance (default
    ``LpDistance(power=2)``: squared Euclidean of normalised vectors; a similarity is used
    with its sign) and ``w_i`` the miner weights counted over the tuple's anchors only
    (PML's ``convert_to_weights(..., using_ref=True)``: the positives/negatives of a
    tuple do not index the proxies). Element losses, default :class:`MeanReducer`.

    Parameters
    ----------
    num_classes, embedding_size : int
    softmax_scale : float, default 1
    **kwargs
        ``distance``, ``reducer``, ``embedding_regularizer``, ... (:class:`BaseMetricLossFunction`).

    Other Parameters
    ----------------
    weight_regularizer : BaseRegularizer, optional
        PML's ``weight_regularizer``: it sees the proxies.
    weight_reg_weight : float, default 1
        ``weight_reg_loss = weight_regularizer(...) * weight_reg_weight``.
    weight_init_func : callable, optional
        Initialises the weights in place (PML's ``weight_init_func``); default: this loss's own
        initialisation (above).

    Notes
    -----
    Differences from PML: PML computes ``-log(softmax)`` and silently drops the samples
    whose probability underflows to 0 (the worst-classified ones) from the loss and from
    the reducer's count; here the log-softmax keeps every sample with a finite loss (the
    same value wherever PML's is finite). The proxies are never cast in place (PML#309);
    a wrong embedding width or label raises a ``ValueError`` naming ``embedding_size`` /
    ``num_classes``. In PML this class derives from ``NCALoss`` (it reuses
    ``nca_computation``); here it is a :class:`BaseMetricLossFunction` with the same
    ``softmax_scale`` attribute.

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.losses import ProxyNCALoss
    >>> loss = ProxyNCALoss(2, 2)
    >>> loss.proxies = np.eye(2, dtype=np.float32)
    >>> round(float(loss(np.array([[1.0, 0.0], [0.0, 2.0]]), [0, 1])), 4)
    0.1269
    """

    _learnable = ("proxies",)

    def __init__(self, num_classes: int, embedding_size: int, softmax_scale: float = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.num_classes = check_positive_int(num_classes, "num_classes", owner)
        self.embedding_size = check_positive_int(embedding_size, "embedding_size", owner)
        self.softmax_scale = softmax_scale
        self.proxies = self.make_weight((self.num_classes, self.embedding_size))

    def get_default_distance(self) -> BaseDistance:
        return LpDistance(power=2)

    def get_logits(self, embeddings: Array) -> Array:
        """``distance(embeddings, proxies)`` (PML's ``get_logits``: distances, not negated)."""
        check_feature_size(self, embeddings, self.proxies.shape[1])
        p, emb = weight_and_embeddings(self, self.proxies, embeddings)
        return self.distance(emb, p)

    def compute_loss(self, embeddings: Array, labels: Array, indices_tuple: Any, ref_emb: Array, ref_labels: Array) -> dict:
        lab = class_labels(self, labels, self.num_classes, embeddings)
        ref_not_supported(self, embeddings, labels, ref_emb, ref_labels)
        xp, device = namespace_and_device(embeddings)
        weights = miner_weights(indices_tuple, lab, embeddings, using_ref=True)
        mat = self.get_logits(embeddings)
        losses = proxy_nca_losses(mat, lab, self.softmax_scale, self.distance.is_inverted) * weights
        loss_dict = per_sample_loss_dict(losses, lab)
        regularize_class_weights(self, loss_dict, self.proxies, embeddings, classes_on_rows=True)
        return loss_dict
