"""SumReducer: the sum of the losses."""

from __future__ import annotations

from typing import Any

from .._array_api import namespace_and_device
from .._typing import Array
from .base import BaseReducer


class SumReducer(BaseReducer):
    """``sum(losses)`` for every reduction type (PML's ``SumReducer``).

    Examples
    --------
    >>> import numpy as np
    >>> SumReducer()({"l": {"losses": np.asarray([1.0, 3.0]), "indices": (np.asarray([0, 1]), np.asarray([1, 0])),
    ...                     "reduction_type": "pos_pair"}}, np.zeros((2, 2)), None).item()
    4.0
    """

    def element_reduction(self, losses: Array, loss_indices: Any, embeddings: Array, labels: Any, **kw: Any) -> Array:
        if losses.shape[0] == 0:
            return self.zero_loss(embeddings, losses)
        xp, _ = namespace_and_device(losses)
        return xp.sum(losses)
