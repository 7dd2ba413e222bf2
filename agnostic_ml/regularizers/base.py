"""BaseRegularizer: a penalty on a set of vectors (embeddings or class weights), PML's ``BaseRegularizer``."""

from __future__ import annotations

import copy
from typing import Any, Sequence

from .._array_api import index_dtype, namespace_and_device
from .._checks import check_embeddings, check_finite
from .._stats import RecordsStats
from ..distances import BaseDistance, LpDistance
from ..reducers import BaseReducer, DoNothingReducer, MeanReducer, MultipleReducers

Array = Any

__all__ = ["BaseRegularizer"]


class BaseRegularizer(RecordsStats):
    """Base class of regularizers: ``regularizer(x)`` is a 0-D penalty of the rows of ``x``.

    ``x`` is ``(N, D)``: the embeddings of a batch (a loss's ``embedding_regularizer``) or
    one row per class weight / proxy (a loss's ``weight_regularizer``, which passes its
    ``W.T``, ``proxies`` or ``fc.T``). :meth:`forward` computes PML's loss dict with
    :meth:`compute_loss` and returns ``reducer(loss_dict, x, arange(N))`` (PML passes
    the row indices as the "labels" of the reduction). Results are 0-D arrays of ``x``'s
    namespace, device and dtype, differentiable on torch.

    Parameters
    ----------
    distance : BaseDistance, optional
        Default :meth:`get_default_distance` (``LpDistance(p=2)``, as PML). Only some
        regularizers use it.
    reducer : BaseReducer, optional
        Default :meth:`get_default_reducer` (``MeanReducer()``); a given reducer is deep-copied
        (``MultipleReducers`` and ``DoNothingReducer`` are used as given), as in PML.
    collect_stats : bool, default False
        Record statistics in ``self.stats`` (0-D arrays, no host sync).
    check_finite : bool, default True
        The library's non-finite policy: a NaN or inf in ``x`` raises ``ValueError`` naming
        its first bad row (one reduction and one host sync per call); False (or
        ``regularizer.check_finite = False``) skips it.

    Notes
    -----
    Subclasses implement ``compute_loss(x)`` (PML's hook), returning
    ``{"loss": {"losses", "indices", "reduction_type"}}``.

    Examples
    --------
    A regularizer of your own: the squared norm of each row, averaged by the default reducer.

    >>> import array_api_compat
    >>> import numpy as np
    >>> from agnostic_ml.regularizers import BaseRegularizer
    >>> class SquaredNormRegularizer(BaseRegularizer):
    ...     def compute_loss(self, x):
    ...         xp = array_api_compat.array_namespace(x)
    ...         return self.element_loss_dict(xp.sum(x * x, axis=1))
    >>> float(SquaredNormRegularizer()(np.array([[3.0, 4.0], [1.0, 0.0]])))
    13.0
    """

    def __init__(
        self,
        distance: BaseDistance | None = None,
        reducer: BaseReducer | None = None,
        collect_stats: bool = False,
        check_finite: bool = True,
    ) -> None:
        super().__init__()
        self.collect_stats = bool(collect_stats)
        if not isinstance(check_finite, bool):
            raise TypeError(f"check_finite must be a bool, got {check_finite!r}")
        self.check_finite = check_finite
        self.stats: dict[str, Any] = {}
        if distance is None:
            distance = self.get_default_distance()
        if not isinstance(distance, BaseDistance):
            raise TypeError(f"distance must be an agnostic_ml distance, got {type(distance).__name__}")
        self.distance = distance
        if reducer is not None and not isinstance(reducer, BaseReducer):
            raise TypeError(f"reducer must be an agnostic_ml reducer, got {type(reducer).__name__}")
        self.set_reducer(reducer)

    def get_default_distance(self) -> BaseDistance:
        return LpDistance(p=2)

    def get_default_reducer(self) -> BaseReducer:
        return MeanReducer()

    def sub_loss_names(self) -> list[str]:
        return ["loss"]

    def set_reducer(self, reducer: BaseReducer | None) -> None:
        if isinstance(reducer, (MultipleReducers, DoNothingReducer)):
            self.reducer = reducer
        else:
            self.reducer = self.get_default_reducer() if reducer is None else copy.deepcopy(reducer)

    def compute_loss(self, x: Array) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} does not implement compute_loss")

    def forward(self, x: Array) -> Array:
        self.stats = {}
        check_embeddings(x, "x")
        xp, device = namespace_and_device(x)
        if getattr(self, "check_finite", True):
            check_finite(x, "x", xp, where=type(self).__name__)
        loss_dict = self.compute_loss(x)
        return self.reducer(loss_dict, x, xp.arange(x.shape[0], dtype=index_dtype(xp, device), device=device))

    def element_loss_dict(self, losses: Array, **extra: Any) -> dict:
        """``{"loss": {"losses": losses, "indices": arange(len(losses)), "reduction_type": "element", **extra}}``."""
        xp, device = namespace_and_device(losses)
        idx = xp.arange(losses.shape[0], dtype=index_dtype(xp, device), device=device)
        return {"loss": {"losses": losses, "indices": idx, "reduction_type": "element", **extra}}

    def check_distance(self, allowed: type | Sequence[type], **required: Any) -> None:
        """``ValueError`` unless ``self.distance`` is one of ``allowed`` with the ``required`` attributes."""
        allowed_t = tuple(allowed) if isinstance(allowed, (list, tuple)) else (allowed,)
        owner = type(self).__name__
        if not isinstance(self.distance, allowed_t):
            names = ", ".join(t.__name__ for t in allowed_t)
            raise ValueError(f"{owner} requires the distance to be {names}, got {type(self.distance).__name__}")
        for attr, value in required.items():
            if getattr(self.distance, attr) != value:
                raise ValueError(f"{owner} requires distance.{attr} == {value!r}, got {getattr(self.distance, attr)!r}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
