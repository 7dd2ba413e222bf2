"""Blocking machinery of the accuracy code: memory budget, block planning, block checks.

A leaf module (it imports nothing from :mod:`agnostic_ml.accuracy`): the exact kNN, the
streaming rank and FNMR passes and their Dask versions all size their query blocks and
reference tiles here, so that every path holds the same amount of memory.

A search over ``rows`` query rows and ``tile`` reference columns keeping ``k`` candidates
holds about ``rows * (tile + k) * bytes_per_elem`` bytes of temporaries;
:func:`plan_blocks` keeps that within ``memory_budget``.
"""

from __future__ import annotations

from typing import Any

from .._array_api import index_dtype

__all__ = [
    "DEFAULT_MEMORY_BUDGET",
    "KNN_EXTRA_BYTES",
    "check_block",
    "check_k",
    "check_memory_budget",
    "check_search",
    "itemsize",
    "knn_bytes_per_elem",
    "plan_blocks",
    "self_mask",
]

Array = Any

#: Default budget (bytes) for the intermediate arrays of one block of a kNN search.
DEFAULT_MEMORY_BUDGET = 256 * 2**20

#: Bytes of temporaries per element of a (rows x reference) block, beyond the distance value
#: itself: the argpartition/topk index (int64), the self mask, a masked copy.
KNN_EXTRA_BYTES = 8 + 1 + 8

# Below this many query rows per block, the reference is tiled instead (GEMMs with very few
# rows are inefficient).
_MIN_ROWS = 32


def itemsize(x: Array, xp: Any) -> int:
    """Bytes per element of ``x``'s floating dtype as the planner counts them (8 or 4)."""
    return 8 if x.dtype == xp.float64 else 4


def knn_bytes_per_elem(query: Array, xp: Any) -> int:
    """Bytes per (query, reference) element of a kNN block: the distance, a masked copy and
    :data:`KNN_EXTRA_BYTES` of temporaries."""
    return 2 * itemsize(query, xp) + KNN_EXTRA_BYTES


def check_k(k: Any, available: int, *, name: str = "k") -> int:
    """``k`` as an int in ``[0, available]``, else a clear ``TypeError`` / ``ValueError``."""
    if isinstance(k, bool) or not isinstance(k, int):
        raise TypeError(f"{name} must be an int, got {type(k).__name__} {k!r}")
    if k < 0:
        raise ValueError(f"{name} must be >= 0, got {k}")
    if k > available:
        raise ValueError(
            f"{name}={k} is larger than the number of available neighbours ({available}: the "
            "reference size, minus 1 when the reference includes the query)"
        )
    return k


def check_block(block_size: Any, name: str) -> int | None:
    """A positive int or None (choose from the budget), else ``ValueError`` naming ``name``."""
    if block_size is None:
        return None
    if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
        raise ValueError(f"{name} must be a positive int or None, got {block_size!r}")
    return block_size


def check_memory_budget(memory_budget: Any) -> int:
    """A positive int (bytes), else ``ValueError``."""
    if isinstance(memory_budget, bool) or not isinstance(memory_budget, int) or memory_budget < 1:
        raise ValueError(f"memory_budget must be a positive int (bytes), got {memory_budget!r}")
    return memory_budget


def check_search(
    n_query: int, n_ref: int, k: Any, ref_includes_query: bool, block_size: Any, ref_block_size: Any
) -> tuple[int, int | None, int | None]:
    """Check the size arguments of one kNN search; returns ``(k, block_size, ref_block_size)``.

    With ``ref_includes_query`` the queries must be the first rows of the reference and each
    query has one neighbour fewer (itself is excluded).
    """
    if ref_includes_query and n_query > n_ref:
        raise ValueError(
            f"ref_includes_query=True needs the queries to be the first rows of the reference, "
            f"but query has {n_query} rows and reference only {n_ref}"
        )
    k = check_k(k, n_ref - int(bool(ref_includes_query)))
    return k, check_block(block_size, "block_size"), check_block(ref_block_size, "ref_block_size")


def plan_blocks(
    n_query: int,
    n_ref: int,
    k: int,
    bytes_per_elem: int,
    *,
    block_size: int | None = None,
    ref_block_size: int | None = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
) -> tuple[int, int]:
    """Choose ``(query rows per block, reference columns per tile)``.

    With ``block_size=None`` the rows are chosen so that ``rows * (tile + k) *
    bytes_per_elem`` stays within ``memory_budget``; the reference is tiled only when fewer
    than 32 rows (or all queries) would fit against the whole reference.

    Examples
    --------
    >>> plan_blocks(1000, 1000, 10, 24, memory_budget=24 * 1010 * 100)
    (100, 1000)
    """
    n_query = max(n_query, 1)
    n_ref = max(n_ref, 1)
    elems = max(1, memory_budget // max(1, bytes_per_elem))
    if block_size is not None and ref_block_size is not None:
        return block_size, ref_block_size
    if ref_block_size is not None:
        rows = max(1, elems // (ref_block_size + k))
        return min(rows, n_query), ref_block_size
    if block_size is not None:
        return block_size, n_ref
    rows = elems // (n_ref + k)
    if rows >= min(_MIN_ROWS, n_query):
        return max(1, min(rows, n_query)), n_ref
    rows = min(_MIN_ROWS, n_query)
    tile = max(1, elems // rows - k)
    return rows, min(max(tile, 1024), n_ref)


def self_mask(rows: int, cols: int, row_offset: int, col_offset: int, xp: Any, device: Any) -> Array:
    """Boolean ``(rows, cols)`` mask of a block's entries where global query index == global
    reference index (the query itself, when the reference includes the queries)."""
    idt = index_dtype(xp, device)
    r = xp.arange(row_offset, row_offset + rows, dtype=idt, device=device)
    c = xp.arange(col_offset, col_offset + cols, dtype=idt, device=device)
    return xp.expand_dims(r, axis=1) == xp.expand_dims(c, axis=0)
