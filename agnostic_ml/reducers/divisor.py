"""DivisorReducer: the sum of the losses over a divisor given by the loss."""

from __future__ import annotations

from typing import Any

from .._array_api import floating_work_dtype, namespace_and_device
from .._typing import Array
from .._validate import is_real
from .base import BaseReducer


class DivisorReducer(BaseReducer):
    """``sum(losses) / divisor``, with ``divisor`` from the loss dict (PML's ``DivisorReducer``).

    Every reduction type except ``already_reduced`` needs a ``"divisor"`` key (a number or
    a 0-D array); a zero divisor gives the graph-keeping zero. Half-precision losses are
    summed in float32 and the result cast back (PML sums in float16 and retries in float32
    only if that gave NaN). Records ``divisor`` when ``collect_stats``.

    Examples
    --------
    >>> import numpy as np
    >>> DivisorReducer()({"l": {"losses": np.asarray([1.0, 3.0]), "indices": np.arange(2),
    ...                         "reduction_type": "element", "divisor": 4}}, np.zeros((2, 2)), None).item()
    1.0
    """

    def unpack_loss_info(self, loss_info: dict) -> tuple[Any, Any, str, dict]:
        losses, indices, reduction_type, kwargs = super().unpack_loss_info(loss_info)
        if reduction_type != "already_reduced":
            if "divisor" not in loss_info:
                raise ValueError(f"DivisorReducer needs a 'divisor' key in the loss dict for reduction_type {reduction_type!r}")
            kwargs = {"divisor": loss_info["divisor"]}
            self.record(divisor=loss_info["divisor"])
        return losses, indices, reduction_type, kwargs

    def element_reduction(
        self, losses: Array, loss_indices: Any, embeddings: Array, labels: Any, divisor: Any = 1, **kw: Any
    ) -> Array:
        xp, device = namespace_and_device(losses)
        work = floating_work_dtype(losses.dtype, xp=xp)
        total = xp.sum(losses if losses.dtype == work else xp.astype(losses, work))
        if is_real(divisor):
            if divisor == 0:
                return self.zero_loss(embeddings, losses)
            out = total / float(divisor)
        else:
            if not hasattr(divisor, "dtype"):
                raise TypeError(f"divisor must be a number or a 0-D array, got {type(divisor).__name__}")
            namespace_and_device(divisor, losses)  # raises for a divisor of another library
            d = xp.astype(xp.reshape(divisor, ()), work)
            nz = d != 0
            out = xp.where(nz, total / xp.where(nz, d, xp.ones_like(d)), xp.zeros_like(total))
        return out if out.dtype == losses.dtype else xp.astype(out, losses.dtype)
