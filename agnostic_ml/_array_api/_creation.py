"""Arrays created from scratch on a given namespace and device."""

from __future__ import annotations

from typing import Any

from .._typing import Array, Namespace
from ._namespace import index_dtype


def eye_mask(n: int, m: int | None, *, k: int = 0, xp: Namespace, device: Any) -> Array:
    """Boolean (n, m) mask that is True on the k-th diagonal."""
    return xp.eye(n, m, k=k, dtype=xp.bool, device=device)


def empty_indices(k: int, *, xp: Namespace, device: Any) -> tuple[Array, ...]:
    """``k`` distinct empty index arrays (the indexing dtype, on ``device``): a miner's or tuple utility's "nothing found"."""
    idt = index_dtype(xp, device)
    return tuple(xp.zeros((0,), dtype=idt, device=device) for _ in range(k))
