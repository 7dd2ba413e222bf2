"""MultipleReducers: one reducer per sub-loss, results summed."""

from __future__ import annotations

from typing import Any

from .._array_api import namespace_and_device
from .._typing import Array
from .base import BaseReducer, zero_loss
from .mean import MeanReducer


class MultipleReducers(BaseReducer):
    """Reduce each entry of a loss dict with its own reducer and sum the results.

    ``reducers`` maps sub-loss names to reducers; other sub-losses use
    ``default_reducer`` (:class:`MeanReducer` by default). Each result is cast to the
    embeddings' dtype (as PML, which writes them into a tensor of that dtype) and the
    sum is computed without in-place writes (PML assigns into a preallocated tensor). An
    empty loss dict gives the graph-keeping zero.

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.reducers import SumReducer
    >>> d = {"a": {"losses": np.asarray([1.0, 3.0]), "indices": np.arange(2), "reduction_type": "element"},
    ...      "b": {"losses": np.asarray([1.0, 3.0]), "indices": np.arange(2), "reduction_type": "element"}}
    >>> MultipleReducers({"a": SumReducer()})(d, np.zeros((2, 2)), None).item()
    6.0
    """

    def __init__(
        self, reducers: dict[str, BaseReducer], default_reducer: BaseReducer | None = None, collect_stats: bool = False
    ) -> None:
        super().__init__(collect_stats=collect_stats)
        if not isinstance(reducers, dict):
            raise TypeError(f"reducers must be a dict {{sub-loss name: reducer}}, got {type(reducers).__name__}")
        for name, r in reducers.items():
            if not callable(r):
                raise TypeError(f"reducers[{name!r}] must be a reducer, got {type(r).__name__}")
        self.reducers = dict(reducers)
        self.default_reducer = MeanReducer() if default_reducer is None else default_reducer

    def forward(self, loss_dict: dict, embeddings: Array, labels: Any = None) -> Array:
        self.stats = {}
        if not isinstance(loss_dict, dict):
            raise TypeError(f"MultipleReducers expects a loss dict, got {type(loss_dict).__name__}")
        xp, _ = namespace_and_device(embeddings)
        if not loss_dict:
            return zero_loss(embeddings)
        values = []
        for name, info in loss_dict.items():
            reducer = self.reducers.get(name, self.default_reducer)
            v = reducer({name: info}, embeddings, labels)
            v = xp.reshape(v, ())
            values.append(v if v.dtype == embeddings.dtype else xp.astype(v, embeddings.dtype))
        return self.sub_loss_reduction(values, embeddings, labels)

    def sub_loss_reduction(self, sub_losses: list[Array], embeddings: Array = None, labels: Any = None) -> Array:
        xp, _ = namespace_and_device(embeddings)
        return xp.sum(xp.stack(sub_losses))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(reducers={self.reducers!r}, default_reducer={self.default_reducer!r})"
