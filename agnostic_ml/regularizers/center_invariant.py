"""CenterInvariantRegularizer: squared norms of the class weights should all be equal."""

from __future__ import annotations

from typing import Any

from .._array_api import namespace_and_device
from ..distances import BaseDistance, LpDistance
from .base import BaseRegularizer

Array = Any

__all__ = ["CenterInvariantRegularizer", "center_invariant_regularization"]


def center_invariant_regularization(norms: Array) -> Array:
    """Per row ``(||w_i||^2 - mean_j ||w_j||^2)^2 / 4`` from the row norms ``||w_i||``.

    Center-invariant loss (Wu et al. 2017): pushes every class centre to the same norm.

    Examples
    --------
    >>> import numpy as np
    >>> center_invariant_regularization(np.array([1.0, 3.0])).tolist()
    [4.0, 4.0]
    """
    xp, _ = namespace_and_device(norms)
    squared = norms**2
    deviations = squared - xp.mean(squared)
    return deviations**2 / 4


class CenterInvariantRegularizer(BaseRegularizer):
    """PML's ``CenterInvariantRegularizer()``: the mean of :func:`center_invariant_regularization`.

    Meant as a ``weight_regularizer`` (one row per class). The norms are the distance's
    (default ``LpDistance(power=1, normalize_embeddings=False)``, which is also the only
    distance allowed; another raises ``ValueError``, PML asserts).

    Examples
    --------
    >>> import numpy as np
    >>> float(CenterInvariantRegularizer()(np.array([[1.0, 0.0], [0.0, 3.0]])))
    4.0
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check_distance(LpDistance, power=1, normalize_embeddings=False)

    def get_default_distance(self) -> BaseDistance:
        return LpDistance(power=1, normalize_embeddings=False)

    def compute_loss(self, weights: Array) -> dict:
        return self.element_loss_dict(center_invariant_regularization(self.distance.get_norm(weights)))
