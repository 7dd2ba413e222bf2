"""Updating a learnable array's values in place, outside autograd (PML's ``param.data = ...``).

A few PML losses re-project their weights on every call (``P2SGradLoss`` renormalises the
columns of ``weight``). The update must change the parameter object's values (an optimizer
holds that object), keep its dtype and device, and stay out of the autograd graph. On torch
that is an assignment to ``.data`` (which, unlike an in-place write under ``no_grad``, does
not bump the version counter, so a graph built before the update can still be
back-propagated, exactly as with PML); elsewhere it is an in-place slice assignment.
"""

from __future__ import annotations

from typing import Any

from ._namespace import is_torch, namespace_and_device

Array = Any

__all__ = ["assign_values"]


def assign_values(param: Array, values: Array) -> None:
    """Replace ``param``'s values with ``values`` (same shape; cast to ``param``'s dtype), in place.

    >>> import numpy as np
    >>> w = np.zeros(2, dtype=np.float32)
    >>> assign_values(w, np.array([1.0, 2.0]))
    >>> w.tolist(), w.dtype.name
    ([1.0, 2.0], 'float32')
    """
    xp, _ = namespace_and_device(param)
    if tuple(values.shape) != tuple(param.shape):
        raise ValueError(f"values have shape {tuple(values.shape)} but the parameter has {tuple(param.shape)}")
    if values.dtype != param.dtype:
        values = xp.astype(values, param.dtype)
    if is_torch(xp):
        param.data = values.detach()
        return
    param[...] = values
