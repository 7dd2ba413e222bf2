"""BatchedDistance: stream a distance matrix over query blocks."""

from __future__ import annotations

from typing import Any, Callable

from .._component import Component, next_getattr
from .._typing import Array
from .._validate import is_int
from .base import BaseDistance


class BatchedDistance(Component):
    """Compute ``distance(query[s:e], ref)`` block by block and hand each to ``iter_fn``.

    PML's ``BatchedDistance(distance, iter_fn=None, batch_size=32)``: calling it returns
    nothing; ``iter_fn(mat, s, e)`` receives each ``(e - s, len(ref))`` block. Unknown
    attributes (``is_inverted``, ``margin``, ...) are read from the wrapped distance.

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.distances import BatchedDistance, LpDistance
    >>> rows = []
    >>> BatchedDistance(LpDistance(), lambda m, s, e: rows.append((s, e)), batch_size=2)(np.eye(3))
    >>> rows
    [(0, 2), (2, 3)]
    """

    def __init__(self, distance: BaseDistance, iter_fn: Callable[[Array, int, int], Any] | None = None, batch_size: int = 32) -> None:
        if not isinstance(distance, BaseDistance):
            raise TypeError(f"distance must be an agnostic_ml distance, got {type(distance).__name__}")
        super().__init__()
        if iter_fn is not None and not callable(iter_fn):
            raise TypeError(f"iter_fn must be callable as iter_fn(mat, s, e) or None, got {type(iter_fn).__name__}")
        if not is_int(batch_size) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        self.distance = distance
        self.iter_fn = iter_fn
        self.batch_size = batch_size

    def forward(self, query_emb: Array, ref_emb: Array | None = None) -> None:
        if self.iter_fn is None:
            raise ValueError("iter_fn is None: set BatchedDistance.iter_fn before calling it")
        ref = query_emb if ref_emb is None else ref_emb
        n = query_emb.shape[0]
        for s in range(0, n, self.batch_size):
            e = min(s + self.batch_size, n)
            self.iter_fn(self.distance(query_emb[s:e, ...], ref), s, e)

    def __getattr__(self, name: str) -> Any:
        try:  # nn.Module's registry first, when this is an adapter shell
            return next_getattr(self, BatchedDistance, name)
        except AttributeError:
            pass
        if name == "distance":  # not yet set (during unpickling)
            raise AttributeError(name)
        return getattr(self.distance, name)
