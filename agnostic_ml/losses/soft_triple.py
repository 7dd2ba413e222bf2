"""SoftTripleLoss: a softmax over classes, each represented by several learnable centres."""

from __future__ import annotations

from typing import Any

from .._array_api import namespace_and_device
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
    to_work_dtype,
    weight_and_embeddings,
)
from .base import BaseMetricLossFunction, WeightRegularizerMixin

Array = Any

__all__ = ["SoftTripleLoss", "soft_triple_class_similarity", "soft_triple_losses"]


def soft_triple_class_similarity(sim_to_centers: Array, num_classes: int, centers_per_class: int, gamma: float) -> Array:
    """``S_ic = sum_k softmax_k(gamma * s_ick) * s_ick``: the relaxed similarity to each class.

    ``sim_to_centers`` is ``(batch, num_classes * centers_per_class)`` with class-major
    columns; ``gamma`` is the *inverse* temperature (PML stores ``1 / gamma`` in
    ``self.gamma``). Returns ``(batch, num_classes)``.

    Examples
    --------
    >>> import numpy as np
    >>> soft_triple_class_similarity(np.array([[0.0, 1.0]]), 1, 2, 1e6).tolist()
    [[1.0]]
    """
    xp, _ = namespace_and_device(sim_to_centers)
    s = xp.reshape(sim_to_centers, (-1, num_classes, centers_per_class))
    z = s * gamma
    z = z - xp.max(z, axis=2, keepdims=True)
    e = xp.exp(z)
    prob = e / xp.sum(e, axis=2, keepdims=True)
    return xp.sum(prob * s, axis=2)


def soft_triple_losses(sim_to_classes: Array, labels: Array, la: float, margin: float) -> Array:
    """Per embedding ``cross_entropy(la * (S_i - margin * onehot(y_i)), y_i)``.

    Examples
    --------
    >>> import numpy as np
    >>> soft_triple_losses(np.array([[0.5, 0.0]]), np.array([0]), 2.0, 0.25).round(4).tolist()
    [0.4741]
    """
    xp, _ = namespace_and_device(sim_to_classes)
    mask = xp.astype(one_hot(labels, sim_to_classes.shape[1], sim_to_classes), sim_to_classes.dtype)
    return cross_entropy(la * (sim_to_classes - margin * mask), labels)


class SoftTripleLoss(WeightRegularizerMixin, BaseMetricLossFunction):
    """SoftTriple (Qian et al. 2019), PML's ``SoftTripleLoss(num_classes, embedding_size, centers_per_class=10, la=20, gamma=0.1, margin=0.01)``.

    Learnable centres ``fc`` of shape ``(embedding_size, num_classes * centers_per_class)``
    (``kaiming_uniform_(a=sqrt(5))`` init as PML, or ``weight_init_func``). With
    ``s_ick`` the similarity of embedding ``i`` to centre ``k`` of class ``c``:
    ``S_ic = sum_k softmax_k(s_ick / gamma) s_ick`` and
    ``loss_i = w_i * cross_entropy(la * (S_i - margin * onehot(y_i)), y_i)``, ``w_i`` the
    miner weights. Element losses, default :class:`MeanReducer`.

    Parameters
    ----------
    num_classes, embedding_size : int
    centers_per_class : int, default 10
    la : float, default 20
        The scale of the class logits (lambda in the paper).
    gamma : float, default 0.1
        The temperature of the softmax over a class's centres; as in PML,
        ``self.gamma`` holds its inverse ``1 / gamma``.
    margin : float, default 0.01
    **kwargs
        ``distance`` (a similarity, default :class:`CosineSimilarity`), ``reducer``, ...

    Other Parameters
    ----------------
    weight_regularizer : BaseRegularizer, optional
        PML's ``weight_regularizer``: it sees ``fc.T`` (one row per centre), as needed by
        :class:`~agnostic_ml.regularizers.SparseCentersRegularizer`.
    weight_reg_weight : float, default 1
        ``weight_reg_loss = weight_regularizer(...) * weight_reg_weight``.
    weight_init_func : callable, optional
        Initialises the weights in place (PML's ``weight_init_func``); default: this loss's own
        initialisation (above).

    Notes
    -----
    The centres are never cast in place (PML#309); the cross-entropy is computed in
    float32 or wider; a wrong embedding width or label raises a ``ValueError`` naming the
    argument; a distance that is not a similarity raises ``ValueError`` (PML asserts).

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.losses import SoftTripleLoss
    >>> loss = SoftTripleLoss(2, 2, centers_per_class=2, la=4)
    >>> loss.fc = np.array([[1.0, 0.9, 0.0, 0.1], [0.0, 0.1, 1.0, 0.9]], dtype=np.float32)
    >>> round(float(loss(np.array([[1.0, 0.0], [0.0, 2.0]]), [0, 1])), 4)
    0.0265
    """

    _learnable = ("fc",)

    def __init__(
        self,
        num_classes: int,
        embedding_size: int,
        centers_per_class: int = 10,
        la: float = 20,
        gamma: float = 0.1,
        margin: float = 0.01,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        owner = type(self).__name__
        if not self.distance.is_inverted:
            raise ValueError(f"{owner} requires a similarity (distance.is_inverted), got {type(self.distance).__name__}")
        self.la = la
        self.gamma = 1.0 / gamma
        self.margin = margin
        self.num_classes = check_positive_int(num_classes, "num_classes", owner)
        self.centers_per_class = check_positive_int(centers_per_class, "centers_per_class", owner)
        self.embedding_size = check_positive_int(embedding_size, "embedding_size", owner)
        self.fc = self.make_weight((self.embedding_size, self.num_classes * self.centers_per_class))

    def default_weight_init(self) -> Any:
        return "kaiming_uniform_a_sqrt5"

    def get_default_distance(self) -> BaseDistance:
        return CosineSimilarity()

    def get_logits(self, embeddings: Array) -> Array:
        """``(batch, num_classes)`` relaxed class similarities ``S`` (PML's ``get_logits``)."""
        check_feature_size(self, embeddings, self.fc.shape[0])
        xp, _ = namespace_and_device(embeddings)
        fc, emb = weight_and_embeddings(self, self.fc, embeddings)
        sim = to_work_dtype(self.distance(emb, xp.matrix_transpose(fc)))
        return soft_triple_class_similarity(sim, self.num_classes, self.centers_per_class, self.gamma)

    def compute_loss(self, embeddings: Array, labels: Array, indices_tuple: Any, ref_emb: Array, ref_labels: Array) -> dict:
        lab = class_labels(self, labels, self.num_classes, embeddings)
        ref_not_supported(self, embeddings, labels, ref_emb, ref_labels)
        xp, device = namespace_and_device(embeddings)
        weights = miner_weights(indices_tuple, lab, embeddings)
        losses = soft_triple_losses(self.get_logits(embeddings), lab, self.la, self.margin) * weights
        loss_dict = per_sample_loss_dict(losses, lab)
        regularize_class_weights(self, loss_dict, self.fc, embeddings, classes_on_rows=False)
        return loss_dict

