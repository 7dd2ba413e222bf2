"""Output budgets: refuse, before allocating, an output that cannot fit in memory.

Some entry points know the size of their output before they build it: all triplets of a
batch (``sum_a P_a N_a``), all pairs (``B R``), pairs -> triplets, ``TripletMarginMiner``'s
triplets once its intervals are counted, ``AllTripletsMiner``, random triplets
(``t_per_anchor`` per anchor) and kNN (``Q k``). Each checks that size against an
*output budget* (a number of tuples, or of ``(query, neighbour)`` entries for kNN) and
raises :class:`OutputTooLargeError` at once instead of growing until the machine kills
the process: ``AllTripletsMiner()`` on 2000 rows of two classes asks for 2e9 triplets
(48 GB of int64 indices).

The default, :data:`DEFAULT_OUTPUT_BUDGET` = 2**28 (268,435,456) tuples, is 6 GiB of int64
triplet indices (4 GiB of pairs, 3-4 GiB of kNN results). It is a count, not a fraction
of free memory: the array API has no portable way to ask a device how much memory is
free, and a count gives the same answer on every backend and machine. It is above what
any ordinary batch asks for (N = 1024 in two classes gives exactly 2**28 triplets; N =
1024 with 8 per class 7.3M) and below what blows up a 16-80 GB accelerator once the
per-tuple losses and gradients are added. Every entry point takes ``output_budget=``
(an int, or None to turn the check off); classes take it in their constructor.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DEFAULT_OUTPUT_BUDGET", "OutputTooLargeError", "check_output_budget", "check_output_size"]

#: Default number of output tuples (triplets, pairs) or kNN entries an entry point may return.
DEFAULT_OUTPUT_BUDGET = 1 << 28


class OutputTooLargeError(ValueError, MemoryError):
    """An output larger than its ``output_budget``, refused before anything was allocated.

    A ``ValueError`` (a bad combination of arguments and input size) and a ``MemoryError``
    (what would have happened otherwise), so that either ``except`` catches it.
    """


OutputTooLargeError.__module__ = "agnostic_ml"  # its public home (tracebacks show agnostic_ml.OutputTooLargeError)


def check_output_budget(value: Any, name: str = "output_budget") -> int | None:
    """``None`` or a positive int, else ``TypeError`` / ``ValueError`` naming ``name``.

    >>> check_output_budget(None), check_output_budget(10)
    (None, 10)
    >>> check_output_budget(0)
    Traceback (most recent call last):
    ...
    ValueError: output_budget must be a positive int or None (no limit), got 0
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a positive int or None (no limit), got {value!r}")
    if not isinstance(value, int):
        try:
            import operator

            value = operator.index(value)  # NumPy integers
        except TypeError:
            raise TypeError(f"{name} must be a positive int or None (no limit), got {value!r}") from None
    if value < 1:
        raise ValueError(f"{name} must be a positive int or None (no limit), got {value!r}")
    return int(value)


def check_output_size(
    count: int,
    budget: int | None,
    *,
    where: str,
    what: str = "triplets",
    bytes_per_item: int = 24,
    way_out: str = "use a miner that selects fewer tuples or a smaller batch",
) -> None:
    """Raise :class:`OutputTooLargeError` when ``count`` items exceed ``budget`` (None: no limit).

    The message says who asked (``where``), how much (items and bytes), and the ways out:
    ``way_out`` and a larger ``output_budget``.

    >>> check_output_size(10, 100, where="get_all_triplets_indices")
    >>> check_output_size(2_000_000_000, 2**28, where="AllTripletsMiner")
    Traceback (most recent call last):
    ...
    agnostic_ml.OutputTooLargeError: AllTripletsMiner would return 2,000,000,000 triplets (44.7 GiB), more than output_budget=268,435,456; use a miner that selects fewer tuples or a smaller batch, or pass a larger output_budget (None turns the check off)
    """
    if budget is None or count <= budget:
        return
    gib = count * bytes_per_item / 2**30
    raise OutputTooLargeError(
        f"{where} would return {count:,} {what} ({gib:.1f} GiB), more than output_budget={budget:,}; "
        f"{way_out}, or pass a larger output_budget (None turns the check off)"
    )
