"""Validators of ``AccuracyCalculator``'s settings (each raises a clear ``TypeError`` / ``ValueError``).

A leaf module: the calculator's ``__init__`` is a list of calls to these, in the order the
arguments are checked, and :func:`agnostic_ml.accuracy.metrics.fnmr_at_fmr` shares the
FMR check.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

__all__ = [
    "check_averaging",
    "check_callable",
    "check_fmr_values",
    "check_k_setting",
    "check_name_lists",
    "positive_ints",
]


def positive_ints(values: Any, name: str) -> tuple[int, ...]:
    """A tuple or list of positive ints (OML's ``cmc_top_k`` etc.), as a tuple."""
    if not isinstance(values, (tuple, list)):
        raise TypeError(f"{name} must be a tuple or list of positive ints, got {type(values).__name__}")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must hold positive ints, got {v!r}")
    return tuple(values)


def check_fmr_values(fmr_vals: Sequence[float]) -> None:
    """Every FMR is a number in ``[0, 100]`` (percent, OML's convention)."""
    for v in fmr_vals:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not (0 <= v <= 100):
            raise ValueError(f"fmr values are percentages in [0, 100], got {v!r}")


def check_name_lists(*lists: Any) -> None:
    """``include`` / ``exclude`` are tuples or lists (a bare string would be read letter by letter)."""
    for met in lists:
        if not isinstance(met, (tuple, list)):
            raise TypeError(f"include/exclude must be a tuple or list of metric names, not {type(met).__name__}")


def check_averaging(avg_of_avgs: Any, return_per_class: Any) -> tuple[bool, bool]:
    """``(avg_of_avgs, return_per_class)`` as bools; they are mutually exclusive."""
    if avg_of_avgs and return_per_class:
        raise ValueError("avg_of_avgs and return_per_class are mutually exclusive")
    return bool(avg_of_avgs), bool(return_per_class)


def check_callable(fn: Any, name: str) -> Callable[..., Any]:
    """``fn`` if it is callable, else ``TypeError`` naming ``name``."""
    if not callable(fn):
        raise TypeError(f"{name} must be callable, got {type(fn).__name__}")
    return fn


def check_k_setting(k: Any) -> int | str | None:
    """PML's ``k``: a positive int, None (the whole reference) or ``"max_bin_count"``."""
    if (not (isinstance(k, int) and not isinstance(k, bool) and k > 0)) and (k not in (None, "max_bin_count")):
        raise ValueError(f"k must be an integer greater than 0, or None, or 'max_bin_count', got {k!r}")
    return k
