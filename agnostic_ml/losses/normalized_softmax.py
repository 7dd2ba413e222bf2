"""NormalizedSoftmaxLoss: softmax over similarities to L2-normalised class weights, with a temperature."""

from __future__ import annotations

from typing import Any

from .._array_api import namespace_and_device
from ..distances import BaseDistance, DotProductSimilarity
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

__all__ = ["NormalizedSoftmaxLoss", "normalized_softmax_logits"]


def normalized_softmax_logits(embeddings: Array, W: Array, temperature: float, distance: BaseDistance) -> Array:
    """``distance(x, normalize(W, dim=0).T) / temperature`` (negated for a non-inverted distance).

    ``W`` is ``(embedding_size, num_classes)``; its columns are normalised with the
    distance's norm before the distance is taken.

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.distances import DotProductSimilarity
    >>> W = np.array([[2.0, 0.0], [0.0, 3.0]])
    >>> normalized_softmax_logits(np.array([[1.0, 0.0]]), W, 0.5, DotProductSimilarity()).tolist()
    [[2.0, 0.0]]
    """
    xp, _ = namespace_and_device(embeddings, W)
    normalized_W = distance.normalize(W, dim=0)
    logits = distance(embeddings, xp.matrix_transpose(normalized_W)) / temperature
    return logits if distance.is_inverted else -logits


class NormalizedSoftmaxLoss(WeightRegularizerMixin, BaseMetricLossFunction):
    """Normalized softmax (Zhai & Wu 2018), PML's ``NormalizedSoftmaxLoss(num_classes, embedding_size, temperature=0.05)``.

    ``loss_i = w_i * cross_entropy(s(x_i, W_j / ||W_j||) / temperature, y_i)`` with ``s``
    the distance (default :class:`DotProductSimilarity`, which normalises the embeddings:
    cosine), negated for a distance, and ``w_i`` the miner weights (PML's
    ``convert_to_weights``). Learnable ``W`` of shape ``(embedding_size, num_classes)``,
    ``normal_`` init (or ``weight_init_func``). Element losses, default :class:`MeanReducer`.

    Parameters
    ----------
    num_classes, embedding_size : int
    temperature : float, default 0.05
    **kwargs
        ``distance``, ``reducer``, ``embedding_regularizer``, ... (:class:`BaseMetricLossFunction`).

    Other Parameters
    ----------------
    weight_regularizer : BaseRegularizer, optional
        PML's ``weight_regularizer``: it sees ``W.T``.
    weight_reg_weight : float, default 1
        ``weight_reg_loss = weight_regularizer(...) * weight_reg_weight``.
    weight_init_func : callable, optional
        Initialises the weights in place (PML's ``weight_init_func``); default: this loss's own
        initialisation (above).

    Notes
    -----
    Differences from PML: ``W`` is never cast in place (PML#309), the cross-entropy is
    computed in float32 or wider, and a wrong embedding width or a label outside
    ``[0, num_classes)`` raises a ``ValueError`` naming ``embedding_size`` / ``num_classes``.

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.losses import NormalizedSoftmaxLoss
    >>> loss = NormalizedSoftmaxLoss(2, 2, temperature=0.5)
    >>> loss.W = np.eye(2, dtype=np.float32)
    >>> round(float(loss(np.array([[1.0, 0.0], [0.0, 2.0]]), [0, 1])), 4)
    0.1269
    """

    _learnable = ("W",)

    def __init__(self, num_classes: int, embedding_size: int, temperature: float = 0.05, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.num_classes = check_positive_int(num_classes, "num_classes", owner)
        self.embedding_size = check_positive_int(embedding_size, "embedding_size", owner)
        self.temperature = temperature
        self.W = self.make_weight((self.embedding_size, self.num_classes))

    def get_default_distance(self) -> BaseDistance:
        return DotProductSimilarity()

    def get_logits(self, embeddings: Array) -> Array:
        check_feature_size(self, embeddings, self.W.shape[0])
        w, emb = weight_and_embeddings(self, self.W, embeddings)
        return normalized_softmax_logits(emb, w, self.temperature, self.distance)

    def compute_loss(self, embeddings: Array, labels: Array, indices_tuple: Any, ref_emb: Array, ref_labels: Array) -> dict:
        lab = class_labels(self, labels, self.num_classes, embeddings)
        ref_not_supported(self, embeddings, labels, ref_emb, ref_labels)
        xp, device = namespace_and_device(embeddings)
        weights = miner_weights(indices_tuple, lab, embeddings)
        losses = cross_entropy(self.get_logits(embeddings), lab) * weights
        loss_dict = per_sample_loss_dict(losses, lab)
        regularize_class_weights(self, loss_dict, self.W, embeddings, classes_on_rows=False)
        return loss_dict
