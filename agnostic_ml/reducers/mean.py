"""MeanReducer: the mean of the losses."""

from __future__ import annotations

from typing import Any

from .._array_api import namespace_and_device
from .._typing import Array
from .base import BaseReducer


class MeanReducer(BaseReducer):
    """``mean(losses)`` for every reduction type (PML's ``MeanReducer``).

    An empty ``losses`` array gives the graph-keeping zero (PML's ``torch.mean`` of an
    empty tensor gives NaN).

    Examples
    --------
    >>> import numpy as np
    >>> MeanReducer()({"l": {"losses": np.asarray([1.0, 3.0]), "indices": np.asarray([0, 1]),
    ...                      "reduction_type": "element"}}, np.zeros((2, 2)), None).item()
    2.0
    """

    def element_reduction(self, losses: Array, loss_indices: Any, embeddings: Array, labels: Any, **kw: Any) -> Array:
        if losses.shape[0] == 0:
            return self.zero_loss(embeddings, losses)
        xp, _ = namespace_and_device(losses)
        return xp.mean(losses)
