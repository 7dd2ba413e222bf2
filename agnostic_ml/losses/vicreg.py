"""VICRegLoss: variance-invariance-covariance regularisation of two views (Bardes et al. 2022)."""

from __future__ import annotations

from typing import Any

from .._array_api import index_dtype, namespace_and_device
from ._math import relu
from .base import BaseMetricLossFunction

Array = Any


def vicreg_terms(emb: Array, ref_emb: Array, eps: float) -> tuple[Array, Array, Array, Array]:
    """The four VICReg terms of two views ``Z = emb`` and ``Z' = ref_emb`` (N x D each).

    - invariance, per row: ``mean_d (z_i - z'_i)^2``;
    - variance, per feature and view: ``relu(1 - sqrt(var_j(Z) + eps)) / 2`` (unbiased variance);
    - covariance: ``sum_{j != k} C(Z)_{jk}^2 / D + sum_{j != k} C(Z')_{jk}^2 / D`` with
      ``C(Z) = (Z - mean)^T (Z - mean) / (N - 1)``.

    Returns ``(invariance (N,), variance of Z (D,), variance of Z' (D,), covariance (0-D))``.

    Examples
    --------
    >>> import numpy as np
    >>> inv, v1, v2, cov = vicreg_terms(np.array([[0.0, 1.0], [2.0, 3.0]]), np.array([[0.0, 1.0], [2.0, 4.0]]), 1e-4)
    >>> inv.tolist(), round(float(cov), 4)
    ([0.0, 0.5], 13.0)
    """
    xp, device = namespace_and_device(emb, ref_emb)
    n, d = emb.shape
    diff = emb - ref_emb
    invariance = xp.mean(diff * diff, axis=1)

    def std(z: Array) -> Array:
        return xp.sqrt(xp.var(z, axis=0, correction=1) + eps)

    var1 = relu(1 - std(emb)) / 2
    var2 = relu(1 - std(ref_emb)) / 2
    off = xp.logical_not(xp.eye(d, dtype=xp.bool, device=device))
    zero = xp.zeros((), dtype=emb.dtype, device=device)

    def cov_sq(z: Array) -> Array:
        zc = z - xp.mean(z, axis=0, keepdims=True)
        cov = xp.matmul(xp.matrix_transpose(zc), zc) / (n - 1)
        return xp.sum(xp.where(off, cov * cov, zero)) / d

    return invariance, var1, var2, cov_sq(emb) + cov_sq(ref_emb)


class VICRegLoss(BaseMetricLossFunction):
    """VICReg, PML's ``VICRegLoss(invariance_lambda=25, variance_mu=25, covariance_v=1, eps=1e-4)``.

    ``loss(embeddings, ref_emb=ref_emb)`` for two views (row ``i`` of each is the same input):
    ``L = lambda * s(Z, Z') + mu * [v(Z) + v(Z')] + nu * [c(Z) + c(Z')]`` with the terms of
    :func:`vicreg_terms`, each reduced by its own reducer (default mean). Labels,
    ``indices_tuple``, a distance and an embedding regularizer are refused (``ValueError``),
    as in PML. ``ref_emb`` is required and must have the shape of ``embeddings``.

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.losses import VICRegLoss
    >>> z1 = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> round(float(VICRegLoss()(z1, ref_emb=z1 + 0.1)), 4)
    10.8696
    """

    def __init__(
        self, invariance_lambda: float = 25, variance_mu: float = 25, covariance_v: float = 1, eps: float = 1e-4, **kwargs: Any
    ) -> None:
        if "distance" in kwargs:
            raise ValueError("VICRegLoss cannot use a distance function")
        if "embedding_regularizer" in kwargs:
            raise ValueError("VICRegLoss cannot use a regularizer")
        super().__init__(**kwargs)
        self.invariance_lambda = invariance_lambda
        self.variance_mu = variance_mu
        self.covariance_v = covariance_v
        self.eps = eps

    def _sub_loss_names(self) -> list[str]:
        return ["invariance_loss", "variance_loss1", "variance_loss2", "covariance_loss"]

    def compute_loss(self, embeddings: Array, labels: Array, indices_tuple: Any, ref_emb: Array, ref_labels: Array) -> dict:
        if indices_tuple is not None:
            raise ValueError("indices_tuple is not supported by VICRegLoss")
        if labels is not None or ref_labels is not None:
            raise ValueError("labels and ref_labels are not supported by VICRegLoss")
        if ref_emb is embeddings:
            raise ValueError("VICRegLoss needs ref_emb: the second view of the embeddings")
        if tuple(ref_emb.shape) != tuple(embeddings.shape):
            raise ValueError(f"ref_emb must have the shape of embeddings {tuple(embeddings.shape)}, got {tuple(ref_emb.shape)}")
        if embeddings.shape[0] < 2:
            raise ValueError(f"VICRegLoss needs at least 2 rows (unbiased variances), got {embeddings.shape[0]}")
        xp, device = namespace_and_device(embeddings)
        idt = index_dtype(xp, device)
        inv, v1, v2, cov = vicreg_terms(embeddings, ref_emb, self.eps)
        rows = xp.arange(inv.shape[0], dtype=idt, device=device)
        feats = xp.arange(v1.shape[0], dtype=idt, device=device)
        return {
            "invariance_loss": {"losses": self.invariance_lambda * inv, "indices": rows, "reduction_type": "element"},
            "variance_loss1": {"losses": self.variance_mu * v1, "indices": feats, "reduction_type": "element"},
            "variance_loss2": {"losses": self.variance_mu * v2, "indices": feats, "reduction_type": "element"},
            "covariance_loss": {"losses": self.covariance_v * cov, "indices": None, "reduction_type": "already_reduced"},
        }
