"""Regularizers: PML's embedding and weight regularizers on any array-API backend (one file each).

A regularizer maps ``x`` of shape ``(N, D)`` to a 0-D penalty. Losses take one as
``embedding_regularizer`` (applied to the batch's embeddings, weighted by
``embedding_reg_weight``) or, for losses with class weights or proxies, as
``weight_regularizer`` (applied to one row per class, weighted by ``weight_reg_weight``).
Each module also exposes its formula as a function. The ``nn.Module`` versions are in
``agnostic_ml_torch.regularizers``.
"""

from .base import BaseRegularizer
from .center_invariant import CenterInvariantRegularizer, center_invariant_regularization
from .lp import LpRegularizer, lp_regularization
from .regular_face import RegularFaceRegularizer, regular_face_regularization
from .sparse_centers import SparseCentersRegularizer, sparse_centers_regularization
from .zero_mean import ZeroMeanRegularizer, zero_mean_regularization

__all__ = [
    "BaseRegularizer",
    "CenterInvariantRegularizer",
    "LpRegularizer",
    "RegularFaceRegularizer",
    "SparseCentersRegularizer",
    "ZeroMeanRegularizer",
    "center_invariant_regularization",
    "lp_regularization",
    "regular_face_regularization",
    "sparse_centers_regularization",
    "zero_mean_regularization",
]
