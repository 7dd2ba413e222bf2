"""The one normaliser of ``rng`` arguments: randomness is explicit, never global.

Every function or class that draws random numbers takes ``rng``: a
``numpy.random.Generator`` (used as is, and advanced), an int seed (a fresh Generator:
the same seed gives the same output) or None (a fresh, unseeded Generator). Draws are
made on the host and moved to the embeddings' device once (conventions, rule 8).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._validate import is_int

__all__ = ["as_generator"]


def as_generator(rng: Any, name: str = "rng") -> np.random.Generator:
    """Normalise ``rng`` (``numpy.random.Generator | int | None``) to a Generator.

    A Generator is returned as is; an int seed must be non-negative (``ValueError``);
    anything else, bools included, raises ``TypeError`` naming ``name``.

    >>> as_generator(0).integers(0, 10, 3).tolist() == as_generator(0).integers(0, 10, 3).tolist()
    True
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or is_int(rng):
        if rng is not None and int(rng) < 0:
            raise ValueError(f"{name} seed must be non-negative, got {rng}")
        return np.random.default_rng(None if rng is None else int(rng))
    raise TypeError(f"{name} must be a numpy.random.Generator, an int seed or None, got {type(rng).__name__}")
