"""Validation of scalar configuration arguments (ints, reals, ranges, choices).

The constructors of distances, miners and reducers check their arguments once, with
these functions, so that what counts as "an int" or "a real number" is decided in one
place: a Python or NumPy number, never a ``bool`` (``True`` is an ``int`` in Python, but
``margin=True`` is a bug). Errors name the argument, what was given and what is expected:
``TypeError`` for the wrong kind of value, ``ValueError`` for a value out of range.

Array arguments (embeddings, labels, index tuples) are checked in :mod:`agnostic_ml._checks`.
"""

from __future__ import annotations

import numbers
from typing import Any, Sequence

__all__ = ["is_int", "is_real", "check_int", "check_real", "check_range", "check_choice"]


def is_int(value: Any) -> bool:
    """A Python or NumPy integer that is not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_real(value: Any) -> bool:
    """A Python or NumPy real number (integers included) that is not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_int(value: Any, name: str, *, minimum: int | None = None) -> int:
    """``int(value)`` for an integer (not a bool) ``>= minimum``, else ``TypeError`` / ``ValueError`` naming ``name``.

    >>> check_int(3, "k", minimum=1)
    3
    >>> check_int(0, "k", minimum=1)
    Traceback (most recent call last):
    ...
    ValueError: k must be >= 1, got 0
    """
    if not is_int(value):
        raise TypeError(f"{name} must be an int, got {value!r} ({type(value).__name__})")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return int(value)


def check_real(value: Any, name: str, *, nonnegative: bool = False, allow_inf: bool = False) -> float:
    """``float(value)`` for a real number (not a bool, not NaN; finite unless ``allow_inf``).

    ``nonnegative`` also requires ``value >= 0``. ``TypeError`` / ``ValueError`` name ``name``.

    >>> check_real(0.5, "margin")
    0.5
    >>> check_real(float("nan"), "margin")
    Traceback (most recent call last):
    ...
    ValueError: margin must not be NaN, got nan
    """
    if not is_real(value):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    v = float(value)
    if v != v:
        raise ValueError(f"{name} must not be NaN, got {value!r}")
    if not allow_inf and v in (float("inf"), float("-inf")):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if nonnegative and v < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return v


def check_range(value: Any, name: str) -> tuple[float, float] | None:
    """``None`` or a ``(lo, hi)`` pair of reals (infinities allowed) with ``lo <= hi``.

    >>> check_range((0, float("inf")), "allowed_pos_range")
    (0.0, inf)
    """
    if value is None:
        return None
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ValueError(f"{name} must be None or a (lo, hi) pair, got {value!r}")
    lo = check_real(value[0], f"{name}[0]", allow_inf=True)
    hi = check_real(value[1], f"{name}[1]", allow_inf=True)
    if lo > hi:
        raise ValueError(f"{name} must have lo <= hi, got {value!r}")
    return (lo, hi)


def check_choice(value: Any, name: str, choices: Sequence[Any]) -> Any:
    """``value`` if it is one of ``choices`` (same type and equal), else ``ValueError`` listing them.

    >>> check_choice("hard", "pos_strategy", ("hard", "easy"))
    'hard'
    >>> check_choice("hardest", "pos_strategy", ("hard", "easy"))
    Traceback (most recent call last):
    ...
    ValueError: pos_strategy must be one of 'hard', 'easy', got 'hardest'
    """
    if not any(type(value) is type(c) and value == c for c in choices):
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value
