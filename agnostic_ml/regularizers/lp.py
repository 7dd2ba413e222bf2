"""LpRegularizer: the L_p norm of each row (raised to ``power``)."""

from __future__ import annotations

from typing import Any

from .._array_api import namespace_and_device
from .._array_api import vector_norm
from .base import BaseRegularizer

Array = Any

__all__ = ["LpRegularizer", "lp_regularization"]


def lp_regularization(x: Array, p: float = 2, power: float = 1) -> Array:
    """Per row ``||x_i||_p ** power``.

    The gradient at a zero row is 0 (as ``torch.norm``'s), not NaN.

    Examples
    --------
    >>> import numpy as np
    >>> lp_regularization(np.array([[3.0, 4.0], [1.0, -1.0]]), p=1).tolist()
    [7.0, 2.0]
    """
    xp, _ = namespace_and_device(x)
    reg = vector_norm(x, ord=p, axis=1, xp=xp)
    return reg**power if power != 1 else reg


class LpRegularizer(BaseRegularizer):
    """PML's ``LpRegularizer(p=2, power=1)``: the mean (default reducer) of ``||x_i||_p ** power``.

    Element losses, one per row (:func:`lp_regularization`).

    Examples
    --------
    >>> import numpy as np
    >>> float(LpRegularizer()(np.array([[3.0, 4.0], [0.0, 1.0]])))
    3.0
    """

    def __init__(self, p: float = 2, power: float = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.p = p
        self.power = power

    def compute_loss(self, x: Array) -> dict:
        return self.element_loss_dict(lp_regularization(x, self.p, self.power))
