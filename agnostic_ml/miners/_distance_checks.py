"""Shared validation for miners that need a particular distance."""

from __future__ import annotations

from typing import Any

from ..distances import LpDistance


def require_normalized_euclidean(miner: Any) -> None:
    """``miner.distance`` must be ``LpDistance(p=2, power=1, normalize_embeddings=True)`` (as in PML)."""
    d = miner.distance
    name = type(miner).__name__
    if not isinstance(d, LpDistance) or d.p != 2 or d.power != 1 or not d.normalize_embeddings:
        raise ValueError(
            f"{name} requires distance=LpDistance(p=2, power=1, normalize_embeddings=True) "
            f"(the default), got {d!r}"
        )
