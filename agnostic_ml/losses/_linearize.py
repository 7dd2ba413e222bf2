"""Exact first-order gradients without an autograd graph of the intermediates.

Some losses (PNPLoss, SmoothAPLoss) sum a smooth function over all (query, item,
competitor) triples of a similarity matrix ``s``. Letting autograd record that sum keeps
O(N^3) intermediates alive until the backward pass. Instead, the value ``v`` and its
gradient ``G = dv/ds`` are computed in bounded-memory chunks without a graph, and the loss
returned is the *linearisation*

    ``v_lin = v + sum(G * (s - stop_gradient(s)))``

whose value is exactly ``v`` (the added term is an exact zero) and whose gradient with
respect to ``s`` (and so the embeddings) is exactly ``G``. Only first-order gradients are
available this way (a second ``backward`` through ``G`` is not: ``G`` is a constant).

``stop_gradient`` is written with :func:`agnostic_ml._array_api.no_grad` (``torch.no_grad``
on torch, nothing elsewhere), so this module has no backend branch.
"""

from __future__ import annotations

from typing import Any

from .._array_api import namespace_and_device, no_grad

Array = Any


def stop_gradient(x: Array) -> Array:
    """A copy of ``x`` that autograd does not track (``x`` itself on backends without autograd)."""
    xp, _ = namespace_and_device(x)
    with no_grad(xp):
        return x * 1


def linearized(value: Array, grad: Array, s: Array, *, axis: int | None = None) -> Array:
    """``value + sum(grad * (s - stop_gradient(s)), axis)``: ``value`` with gradient ``grad`` w.r.t. ``s``.

    ``value`` and ``grad`` must not carry a graph (``grad`` has ``s``'s shape). With
    ``axis=1``, ``value`` is one entry per row of ``s`` and row ``i``'s entry gets the
    gradient ``grad[i, :]`` with respect to ``s[i, :]``.

    >>> import numpy as np
    >>> linearized(np.asarray(2.0), np.ones((2, 2)), np.zeros((2, 2))).item()
    2.0
    """
    xp, _ = namespace_and_device(s)
    delta = s - stop_gradient(s)
    return value + xp.sum(grad * delta, axis=axis)
