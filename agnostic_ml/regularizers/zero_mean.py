"""ZeroMeanRegularizer: the absolute sum of each row's components."""

from __future__ import annotations

from typing import Any

from .._array_api import namespace_and_device
from .base import BaseRegularizer

Array = Any

__all__ = ["ZeroMeanRegularizer", "zero_mean_regularization"]


def zero_mean_regularization(x: Array) -> Array:
    """Per row ``|sum_d x_id|``: zero when the components of the row average to 0.

    Examples
    --------
    >>> import numpy as np
    >>> zero_mean_regularization(np.array([[1.0, -1.0], [2.0, 1.0]])).tolist()
    [0.0, 3.0]
    """
    xp, _ = namespace_and_device(x)
    return xp.abs(xp.sum(x, axis=1))


class ZeroMeanRegularizer(BaseRegularizer):
    """PML's ``ZeroMeanRegularizer()``: the mean (default reducer) of ``|sum_d x_id|``.

    Examples
    --------
    >>> import numpy as np
    >>> float(ZeroMeanRegularizer()(np.array([[1.0, -1.0], [2.0, 1.0]])))
    1.5
    """

    def compute_loss(self, x: Array) -> dict:
        return self.element_loss_dict(zero_mean_regularization(x))
