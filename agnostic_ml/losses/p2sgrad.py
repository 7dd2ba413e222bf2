"""P2SGradLoss: mean squared error between cosines to the class weights and the one-hot labels."""

from __future__ import annotations

from typing import Any

from .._array_api import namespace_and_device, no_grad
from .._array_api import assign_values
from .._array_api import vector_norm
from ._classification import (
    check_feature_size,
    check_positive_int,
    class_labels,
    indices_tuple_not_supported,
    one_hot,
    ref_not_supported,
    weight_and_embeddings,
)
from .base import BaseMetricLossFunction

Array = Any

__all__ = ["P2SGradLoss", "p2sgrad_loss", "p2sgrad_renorm"]

#: torch.renorm's constants as PML uses them: ``renorm(2, 1, 1e-5).mul(1e5)``.
_MAXNORM = 1e-5
_RENORM_EPS = 1e-7
_RESCALE = 1e5


def p2sgrad_renorm(weight: Array) -> Array:
    """PML's ``weight.renorm(2, 1, 1e-5).mul(1e5)``: columns to (almost exactly) unit L2 norm.

    On torch the result is bitwise torch's (same norm, same float operations).

    A column with norm ``r > 1e-5`` becomes ``w * 1e-5 / (r + 1e-7) * 1e5`` (torch's
    ``renorm`` adds 1e-7); a column with a smaller norm is multiplied by ``1e5``.

    Examples
    --------
    >>> import numpy as np
    >>> p2sgrad_renorm(np.array([[3.0], [4.0]])).round(6).tolist()
    [[0.6], [0.8]]
    """
    xp, _ = namespace_and_device(weight)
    norms = vector_norm(weight, ord=2, axis=0, keepdims=True, xp=xp)
    # A full_like numerator: torch computes ``scalar / x`` as ``reciprocal(x) * scalar``,
    # which differs from renorm's kernel in the last bit.
    factor = xp.where(norms > _MAXNORM, xp.full_like(norms, _MAXNORM) / (norms + _RENORM_EPS), xp.ones_like(norms))
    return (weight * factor) * _RESCALE


def p2sgrad_loss(embeddings: Array, weight: Array, labels: Array) -> Array:
    """``mean_{i,j} (clip(x_i . w_j / ||x_i||, -1, 1) - [j == y_i])^2`` over the whole ``(N, C)`` matrix.

    ``weight`` is ``(descriptors_dim, num_classes)`` with unit columns, so ``x_i . w_j /
    ||x_i||`` is the cosine (P2SGrad, Eq. 11 of the paper, as an MSE).

    Examples
    --------
    >>> import numpy as np
    >>> float(p2sgrad_loss(np.array([[2.0, 0.0]]), np.eye(2), np.array([0])))
    0.0
    """
    xp, _ = namespace_and_device(embeddings, weight)
    x_modulus = xp.sqrt(xp.sum(embeddings * embeddings, axis=1))
    cos_theta = xp.matmul(embeddings, weight)
    if cos_theta.dtype != embeddings.dtype:  # matmul under autocast: back to the working dtype
        cos_theta = xp.astype(cos_theta, embeddings.dtype)
    cos_theta = xp.clip(cos_theta / xp.expand_dims(x_modulus, axis=1), -1, 1)
    target = xp.astype(one_hot(labels, weight.shape[1], cos_theta), cos_theta.dtype)
    # sum / count rather than mean: an empty batch gives 0 (nothing to compute), not PML's nan.
    count = max(cos_theta.shape[0] * cos_theta.shape[1], 1)
    return xp.sum((cos_theta - target) ** 2) / count


class P2SGradLoss(BaseMetricLossFunction):
    """P2SGrad (Zhang et al. 2019), PML's ``P2SGradLoss(descriptors_dim, num_classes)``.

    The learnable ``weight`` of shape ``(descriptors_dim, num_classes)`` is initialised as
    PML's (``uniform_(-1, 1)``, then unit columns) and, as in PML, its columns are
    renormalised in place at the start of every call (:func:`p2sgrad_renorm`, outside
    autograd: the update is PML's ``weight.data = ...``). The loss is
    :func:`p2sgrad_loss`, already reduced (the reducer passes it through).
    https://arxiv.org/abs/1905.02479

    Parameters
    ----------
    descriptors_dim : int
        The embedding size.
    num_classes : int
    **kwargs
        ``distance`` (unused, as in PML), ``reducer``, ``embedding_regularizer``, ...

    Notes
    -----
    ``indices_tuple`` and ``ref_emb`` are refused with a ``ValueError`` (as PML), labels
    are required. Differences from PML: the weight's dtype is never changed (PML casts it
    to the embeddings' dtype, PML#309; half-precision embeddings are computed against the
    float32 weight), PML's assertion that the columns have unit norm is not repeated (it
    holds after the renormalisation unless a column has a norm below 1e-5), and a wrong
    embedding width or label raises a ``ValueError`` naming ``descriptors_dim`` /
    ``num_classes``.

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.losses import P2SGradLoss
    >>> loss = P2SGradLoss(2, 2)
    >>> loss.weight = np.array([[2.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    >>> round(float(loss(np.array([[1.0, 0.0], [1.0, 1.0]]), [0, 1])), 4)
    0.1464
    >>> loss.weight.round(6).tolist()  # renormalised in place
    [[1.0, 0.0], [0.0, 1.0]]
    """

    _learnable = ("weight",)

    def __init__(self, descriptors_dim: int, num_classes: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.descriptors_dim = check_positive_int(descriptors_dim, "descriptors_dim", owner)
        self.num_classes = check_positive_int(num_classes, "num_classes", owner)
        self.weight = self.new_parameter((self.descriptors_dim, self.num_classes), "uniform_pm1")
        self.renorm_weight()

    def renorm_weight(self) -> None:
        """Renormalise the columns of ``weight`` in place (PML does it at init and every call)."""
        xp, _ = namespace_and_device(self.weight)
        with no_grad(xp):
            assign_values(self.weight, p2sgrad_renorm(self.weight))

    def compute_loss(self, embeddings: Array, labels: Array, indices_tuple: Any, ref_emb: Array, ref_labels: Array) -> dict:
        ref_not_supported(self, embeddings, labels, ref_emb, ref_labels)
        indices_tuple_not_supported(self, indices_tuple)
        lab = class_labels(self, labels, self.num_classes, embeddings)
        check_feature_size(self, embeddings, self.weight.shape[0], name="descriptors_dim")
        self.renorm_weight()
        w, emb = weight_and_embeddings(self, self.weight, embeddings)
        loss = p2sgrad_loss(emb, w, lab)
        return {"loss": {"losses": loss, "indices": None, "reduction_type": "already_reduced"}}
