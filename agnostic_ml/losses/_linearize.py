"""Exact first-order gradients without an autograd graph of the intermediates.

Some losses (PNPLoss, SmoothAPLoss) sum a smooth function over all (query, item,
competitor) triples. Letting autograd record that sum keeps O(N^3) intermediates alive
until the backward pass. Instead, the value ``v`` and its gradients ``G_x = dv/dx`` with
respect to a few arrays ``x`` (all functions of the embeddings) are computed in
bounded-memory blocks without a graph, and the loss returned is the *linearisation*

    ``v_lin = v + sum_x sum(G_x * (x - stop_gradient(x)))``

whose value is exactly ``v`` (each added term is an exact zero) and whose gradient is
exactly ``sum_x G_x dx/d(embeddings)``. Only first-order gradients are available this way
(a second ``backward`` through ``G`` is not: ``G`` is a constant).

``stop_gradient`` is written with :func:`agnostic_ml._array_api.no_grad` (``torch.no_grad``
on torch, nothing elsewhere), so this module has no backend branch.
"""

from __future__ import annotations

from typing import Any, Sequence

from .._array_api import namespace_and_device, no_grad

Array = Any


def stop_gradient(x: Array) -> Array:
    """A copy of ``x`` that autograd does not track (a plain copy on backends without autograd)."""
    xp, _ = namespace_and_device(x)
    with no_grad(xp):
        return x * 1


def linearized(value: Array, terms: Sequence[tuple[Array, Array]], *, axis: int | None = None) -> Array:
    """``value + sum over (grad, x) of sum(grad * (x - stop_gradient(x)), axis)``.

    ``value`` and every ``grad`` carry no graph; each ``grad`` has its ``x``'s shape. With
    ``axis=1``, ``value`` has one entry per row and row ``i``'s entry gets the gradient
    ``grad[i, :]`` with respect to ``x[i, :]``.

    >>> import numpy as np
    >>> linearized(np.asarray(2.0), [(np.ones((2, 2)), np.zeros((2, 2)))]).item()
    2.0
    """
    out = value
    for grad, x in terms:
        xp, _ = namespace_and_device(x)
        out = out + xp.sum(grad * (x - stop_gradient(x)), axis=axis)
    return out
