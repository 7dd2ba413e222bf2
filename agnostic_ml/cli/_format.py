"""How the commands print numbers, miners and tuple counts."""

from __future__ import annotations

import math
from typing import Any

from .._text import table

__all__ = ["describe_tuples", "fmt", "miner_label", "table", "tuple_keys"]


def fmt(value: Any) -> str:
    """A metric value: 4 decimals, ``nan``, or lists of those."""
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4f}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(fmt(v) for v in value) + "]"
    return str(value)


def miner_label(miner: Any, params: dict[str, Any]) -> str:
    """``ClassName(key=value, ...)`` with the parameters the user gave (the rng left out)."""
    shown = ", ".join(f"{k}={_short_repr(v)}" for k, v in params.items() if k != "rng")
    return f"{type(miner).__name__}({shown})"


def _short_repr(v: Any) -> str:
    if hasattr(v, "__module__") and str(getattr(type(v), "__module__", "")).startswith("agnostic_ml.distances"):
        return f"{type(v).__name__}()"
    return repr(v)


def describe_tuples(out: tuple[Any, ...]) -> tuple[str, dict[str, int]]:
    """'pairs: 812 positive, 3311 negative' / 'triplets: 5012', plus the counts."""
    if len(out) == 4:
        pos, neg = int(out[0].shape[0]), int(out[2].shape[0])
        return f"pairs: {pos} positive, {neg} negative", {"positive_pairs": pos, "negative_pairs": neg}
    n = int(out[0].shape[0])
    return f"triplets: {n}", {"triplets": n}


def tuple_keys(out: tuple[Any, ...]) -> tuple[str, ...]:
    """The ``.npz`` keys of a miner output: ``a1, p, a2, n`` (pairs) or ``a, p, n`` (triplets)."""
    return ("a1", "p", "a2", "n") if len(out) == 4 else ("a", "p", "n")


def print_property_outcome(report: Any, failure: BaseException | None = None) -> int:
    """Print a kit report (and a failure's minimal example) the way check-miner/check-loss do.

    Returns the exit code: 0 when every invariant holds, 1 when ``failure`` (the kit's error,
    whose ``.report`` is ``report``) is given.
    """
    print(report.summary())
    if failure is not None:
        print()
        print(str(failure))
        return 1
    print("all invariants hold")
    return 0
