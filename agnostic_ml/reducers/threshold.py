"""ThresholdReducer: the mean of the losses inside an open interval."""

from __future__ import annotations

import math
from typing import Any

from .._array_api import index_dtype, namespace_and_device
from .._typing import Array
from .._validate import is_real
from .base import BaseReducer


class ThresholdReducer(BaseReducer):
    """Mean of the losses with ``low < loss < high`` (both strict; PML's ``ThresholdReducer``).

    ``out = sum_k [low < L_k < high] L_k / max(1, #kept)``: 0 (with a zero gradient) when
    nothing is kept. Computed with a mask instead of boolean indexing, so it has fixed
    shapes (no data-dependent shapes, no host sync) and stays differentiable.

    Parameters
    ----------
    low, high : float, optional
        At least one is required (``ValueError`` otherwise; PML asserts). Settings that can
        never keep a loss raise ``ValueError`` (PML accepts them and always returns 0):
        NaN, ``low >= high``, ``low = +inf`` or ``high = -inf``.
    collect_stats : bool, default False
        Records ``num_past_filter``, ``num_above_low`` and ``num_below_high`` as 0-D
        arrays (``num_below_high`` counts, as in PML, the losses below ``high`` among those
        above ``low``). PML declares ``num_below_high`` but writes ``num_above_high`` (a
        bug); here the declared name is used.

    Examples
    --------
    >>> import numpy as np
    >>> r = ThresholdReducer(low=0.5, high=3)
    >>> r({"l": {"losses": np.asarray([0.2, 1.0, 2.0, 5.0]), "indices": np.arange(4),
    ...          "reduction_type": "element"}}, np.zeros((4, 2)), None).item()
    1.5
    """

    def __init__(self, low: float | None = None, high: float | None = None, collect_stats: bool = False) -> None:
        super().__init__(collect_stats=collect_stats)
        if low is None and high is None:
            raise ValueError("ThresholdReducer needs at least one of low or high, got neither")
        for name, v in (("low", low), ("high", high)):
            if v is not None and not is_real(v):
                raise TypeError(f"{name} must be a number or None, got {v!r}")
            if v is not None and math.isnan(v):
                raise ValueError(f"{name} must not be NaN (no loss compares with NaN), got {v!r}")
        if low is not None and high is not None and not low < high:
            raise ValueError(
                f"ThresholdReducer keeps losses with low < loss < high, so low must be < high; got low={low!r}, "
                f"high={high!r}, which can never keep a loss"
            )
        if low is not None and low == math.inf:
            raise ValueError("low must be < inf: no loss is larger than inf")
        if high is not None and high == -math.inf:
            raise ValueError("high must be > -inf: no loss is smaller than -inf")
        self.low = low
        self.high = high

    def element_reduction(self, losses: Array, loss_indices: Any, embeddings: Array, labels: Any, **kw: Any) -> Array:
        xp, device = namespace_and_device(losses)
        idt = index_dtype(xp, device)
        keep = xp.ones(losses.shape, dtype=xp.bool, device=device)
        above_low = below_high = None
        if self.low is not None:
            above_low = losses > self.low
            keep = xp.logical_and(keep, above_low)
        if self.high is not None:
            keep = xp.logical_and(keep, losses < self.high)
            below_high = keep  # as PML: counted among the losses that passed ``low``
        n_kept = xp.sum(xp.astype(keep, idt))
        if self.collect_stats:
            self.record(num_past_filter=n_kept)
            if above_low is not None:
                self.record(num_above_low=xp.sum(xp.astype(above_low, idt)))
            if below_high is not None:
                self.record(num_below_high=xp.sum(xp.astype(below_high, idt)))
        if losses.shape[0] == 0:
            return self.zero_loss(embeddings, losses)
        zero = xp.zeros((), dtype=losses.dtype, device=device)
        total = xp.sum(xp.where(keep, losses, zero))
        return total / xp.astype(xp.maximum(n_kept, xp.ones((), dtype=idt, device=device)), losses.dtype)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(low={self.low}, high={self.high})"
