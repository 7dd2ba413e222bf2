"""Arrays created from scratch on a given namespace and device."""

from __future__ import annotations

from typing import Any

from .._typing import Array, Namespace


def eye_mask(n: int, m: int | None, *, k: int = 0, xp: Namespace, device: Any) -> Array:
    """Boolean (n, m) mask that is True on the k-th diagonal."""
    return xp.eye(n, m, k=k, dtype=xp.bool, device=device)
