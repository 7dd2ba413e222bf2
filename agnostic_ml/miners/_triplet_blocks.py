"""Blocked triplet enumeration over sorted negatives: the core of the triplet miners.

No ``B x R x R`` tensor is ever built. For each anchor ``a`` the negative columns of its
row of the distance matrix are sorted once (argsort, ``O(R log R)`` per row). For a fixed
positive pair ``(a, p)`` every triplet condition used by the miners is a threshold on
``d_an`` that is *monotone* along that sorted order, so the negatives it keeps are an
interval ``[lo, lo + count)`` of the sorted row. Intervals are found by an exact,
vectorised binary search (one gather per step per positive pair), and triplets are
written out from ``(a, p, lo, count)`` with ``repeat`` + ``arange`` at the end, into
preallocated outputs. Memory: the distance matrix, one ``(B, R)`` int64 sort order per
anchor block (``O(N R)`` in all), per-positive-pair scalars, and the output.

API (private; shared by TripletMarginMiner and OML-style all-triplets miners)
----------------------------------------------------------------------------
``iter_triplet_blocks(mat, labels, ref_labels, *, exclude_self, bounds, inverted, sort)``
    Yields one :class:`TripletBlock` per block of anchor rows. ``mat`` is the ``(N, R)``
    distance (or similarity, ``inverted=True``) matrix, which must be finite. The sort
    key of each row puts negatives first, *least similar last*: ascending distance or
    descending similarity, ties by column index only where the backend sort is stable
    (the order of equal values never changes *which* triplets are kept). ``sort=False``
    keeps the negatives in column order instead (no argsort of values; then ``bounds``
    must not search), which gives lexicographic ``(a, p, n)`` output for "all negatives".

    ``bounds(x, search, n_neg) -> (lo, count)`` is called once per block with, for each
    positive pair ``(a, p)`` of the block (row-major, i.e. sorted by ``a`` then ``p``):
    ``x = mat[a, p]`` (shape ``(P,)``), ``n_neg`` the number of negatives of ``a`` and
    ``search(pred)``, which returns for every pair the number of *leading* sorted
    negatives ``v = mat[a, n]`` with ``pred(v, x)`` True. ``pred`` must be monotone along
    the sorted order (True for a prefix), e.g. ``margin(v, x) <= c``; it is evaluated
    elementwise on ``(P,)`` arrays, exactly as written (so floating-point comparisons
    match an implementation that evaluates the same expression on every triplet).
    Return ``lo`` and ``count`` as index-dtype ``(P,)`` arrays with
    ``0 <= lo <= lo + count <= n_neg``.

``emit_triplets(blocks, *, xp, device)``
    Concatenates the triplets of all blocks: ``(a, p, n)`` index arrays in the index
    dtype; triplets are grouped by ``(a, p)`` in lexicographic order, and within a group
    the negatives follow the sorted order (nearest first for distances with ``sort=True``).

The ``(pos, neg)`` masks of each anchor block come from
:func:`agnostic_ml._label_masks.label_masks` (``start=``, ``stop=``).

Example
-------
>>> import numpy as np
>>> from agnostic_ml._array_api import namespace_and_device
>>> mat = np.array([[0.0, 0.1, 0.5, 0.2], [0.1, 0.0, 0.3, 0.9],
...                 [0.5, 0.3, 0.0, 0.4], [0.2, 0.9, 0.4, 0.0]])
>>> labels = np.array([0, 0, 1, 1])
>>> xp, dev = namespace_and_device(mat)
>>> def bounds(x, search, n_neg):   # negatives with d_an - d_ap <= 0.25
...     return 0 * n_neg, search(lambda v, x_: v - x_ <= 0.25)
>>> blocks = list(iter_triplet_blocks(mat, labels, labels, exclude_self=True, bounds=bounds))
>>> [t.tolist() for t in emit_triplets(blocks, xp=xp, device=dev)]
[[0, 1, 2, 2, 3], [1, 0, 3, 3, 2], [3, 2, 1, 0, 0]]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np

from .._array_api import empty_indices, index_dtype, namespace_and_device, nonzero, repeat, take_nonneg, to_numpy
from .._label_masks import label_masks
from .._typing import Array

#: Elements of one anchor block's ``(B, R)`` temporaries (key, order, masks).
BLOCK_ELEMENTS = 1 << 21
#: Triplets written per emission step (bounds the temporaries of ``emit_triplets``). Kept
#: small enough (16 MiB int64 arrays) that the allocator reuses the step's temporaries
#: instead of mapping fresh pages for each step (glibc maps blocks >= 32 MiB afresh).
EMIT_ELEMENTS = 1 << 21
#: Up to this many triplets from a single anchor block are written in one step, without
#: the copy into preallocated outputs.
ONE_STEP_ELEMENTS = 1 << 23

Predicate = Callable[[Array, Array], Array]
Bounds = Callable[[Array, Callable[[Predicate], Array], Array], "tuple[Array, Array]"]


@dataclass(frozen=True)
class TripletBlock:
    """The triplets of anchor rows ``start:start + order.shape[0]``, as intervals.

    ``order[r]`` lists the columns of row ``start + r``, negatives first in sorted order;
    positive pair ``j`` is ``(anchors[j], positives[j])`` and keeps the negatives
    ``order[anchors[j] - start, lo[j] : lo[j] + count[j]]``. ``total`` is ``sum(count)``
    and ``host_count`` the counts on the host (both used to size the output).
    """

    start: int
    order: Array
    anchors: Array
    positives: Array
    lo: Array
    count: Array
    host_count: np.ndarray
    total: int


def anchor_block_rows(n_cols: int, block_elements: int | None = None) -> int:
    """Rows per anchor block so that a ``(rows, n_cols)`` temporary has ``<= block_elements``."""
    budget = BLOCK_ELEMENTS if block_elements is None else block_elements
    return max(1, budget // max(1, n_cols))


def search_sorted_prefix(
    values_flat: Array,
    order_flat: Array,
    row_base: Array,
    hi: Array,
    pred: Callable[[Array], Array],
    n_cols: int,
    *,
    xp: Any,
) -> Array:
    """Exact vectorised binary search: the length of the True prefix of ``pred``.

    For query ``j``, the candidates are ``values_flat[row_base[j] + order_flat[row_base[j] + k]]``
    for ``k in [0, hi[j])``; ``pred`` (elementwise, True on a prefix) is evaluated on
    ``ceil(log2(n_cols + 1))`` gathered values per query, with no host sync.
    """
    lo = xp.zeros_like(hi)
    if hi.shape[0] == 0 or n_cols == 0:
        return lo
    _, device = namespace_and_device(hi)
    last = xp.asarray(n_cols - 1, dtype=hi.dtype, device=device)
    one = xp.asarray(1, dtype=hi.dtype, device=device)
    for _ in range(int(n_cols).bit_length()):
        active = lo < hi
        mid = (lo + hi) // 2
        pos = row_base + xp.minimum(mid, last)
        v = take_nonneg(values_flat, row_base + take_nonneg(order_flat, pos, xp=xp), xp=xp)
        ok = pred(v)
        go_right = xp.logical_and(active, ok)
        go_left = xp.logical_and(active, xp.logical_not(ok))
        lo = xp.where(go_right, mid + one, lo)
        hi = xp.where(go_left, mid, hi)
    return lo


def iter_triplet_blocks(
    mat: Array,
    labels: Array,
    ref_labels: Array,
    *,
    exclude_self: bool,
    bounds: Bounds,
    inverted: bool = False,
    sort: bool = True,
    block_elements: int | None = None,
) -> Iterator[TripletBlock]:
    """Yield the triplet intervals of each anchor block (see the module docstring)."""
    xp, device = namespace_and_device(mat)
    idt = index_dtype(xp, device)
    n, r = mat.shape
    if n == 0 or r == 0:
        return
    rows = anchor_block_rows(r, block_elements)
    fill = xp.asarray(float("inf"), dtype=mat.dtype, device=device)
    zero_f = xp.asarray(0.0, dtype=mat.dtype, device=device)
    one_f = xp.asarray(1.0, dtype=mat.dtype, device=device)
    r_i = xp.asarray(r, dtype=idt, device=device)
    for start in range(0, n, rows):
        stop = min(start + rows, n)
        pos, neg = label_masks(labels, ref_labels, exclude_self=exclude_self, start=start, stop=stop, xp=xp, device=device)
        pr, pp = nonzero(pos, xp=xp)
        if pr.shape[0] == 0:
            continue
        block = mat[start:stop, ...]
        if sort:
            key = xp.where(neg, -block if inverted else block, fill)
        else:
            key = xp.where(neg, zero_f, one_f)  # negatives first, column order kept (stable)
        order = xp.argsort(key, axis=1, stable=not sort)
        if order.dtype != idt:
            order = xp.astype(order, idt)
        del key
        n_neg_rows = xp.sum(xp.astype(neg, idt), axis=1)
        row_base = pr * r_i
        values_flat = xp.reshape(block, (-1,))
        order_flat = xp.reshape(order, (-1,))
        x = take_nonneg(values_flat, row_base + pp, xp=xp)
        n_neg = take_nonneg(n_neg_rows, pr, xp=xp)

        def search(pred: Predicate, _vf=values_flat, _of=order_flat, _rb=row_base, _hi=n_neg, _x=x) -> Array:
            return search_sorted_prefix(_vf, _of, _rb, _hi, lambda v: pred(v, _x), r, xp=xp)

        lo, count = bounds(x, search, n_neg)
        host_count = np.asarray(to_numpy(count), dtype=np.int64)
        total = int(host_count.sum())
        if total == 0:
            continue
        yield TripletBlock(start, order, pr + xp.asarray(start, dtype=idt, device=device), pp, lo, count, host_count, total)


def _chunks(host_count: np.ndarray, limit: int) -> Iterator[tuple[int, int, int, int]]:
    """Split positive pairs into consecutive runs of about ``limit`` triplets.

    Yields ``(first_pair, stop_pair, first_triplet, n_triplets)`` (block-local triplet offsets).
    """
    cum = np.cumsum(host_count)
    p = host_count.shape[0]
    i = 0
    while i < p:
        before = int(cum[i - 1]) if i > 0 else 0
        j = int(np.searchsorted(cum, before + limit, side="right"))
        j = min(max(j, i + 1), p)
        yield i, j, before, int(cum[j - 1]) - before
        i = j


def emit_triplets(
    blocks: list[TripletBlock], *, xp: Any, device: Any, emit_elements: int | None = None
) -> tuple[Array, Array, Array]:
    """Write the triplets of ``blocks`` as ``(a, p, n)`` index arrays (see the module docstring).

    Work is split into steps of about ``emit_elements`` triplets (one step for a single
    block of at most ``ONE_STEP_ELEMENTS``). A single step returns its arrays as they are;
    otherwise the outputs are allocated once and each step is written
    into its slice (index arrays, no autograd), so the peak is the output plus
    ``O(emit_elements)`` temporaries, never two copies of the output.
    """
    idt = index_dtype(xp, device)
    total = sum(b.total for b in blocks)
    if total == 0:
        return empty_indices(3, xp=xp, device=device)  # type: ignore[return-value]
    limit = EMIT_ELEMENTS if emit_elements is None else emit_elements
    if len(blocks) == 1 and total <= max(limit, ONE_STEP_ELEMENTS if emit_elements is None else 0):
        return _emit_step(blocks[0], 0, blocks[0].host_count.shape[0], total, xp=xp, device=device, idt=idt)
    steps = [(b, i, j, m) for b in blocks for i, j, _, m in _chunks(b.host_count, limit) if m > 0]
    if len(steps) == 1:
        return _emit_step(*steps[0], xp=xp, device=device, idt=idt)
    out = [xp.empty((total,), dtype=idt, device=device) for _ in range(3)]
    k = 0
    for step in steps:
        m = step[3]
        for o, v in zip(out, _emit_step(*step, xp=xp, device=device, idt=idt)):
            o[k : k + m] = v  # fresh index arrays, no autograd: slice writes are safe
        k += m
    return out[0], out[1], out[2]


def _emit_step(b: TripletBlock, i: int, j: int, m: int, *, xp: Any, device: Any, idt: Any) -> tuple[Array, Array, Array]:
    """Triplets of positive pairs ``i:j`` of block ``b`` (``m`` of them)."""
    r_i = xp.asarray(b.order.shape[1], dtype=idt, device=device)
    start_i = xp.asarray(b.start, dtype=idt, device=device)
    cnt = b.count[i:j]
    a = b.anchors[i:j]
    first = xp.cumulative_sum(cnt) - cnt  # exclusive start of each pair's run
    offset = (a - start_i) * r_i + b.lo[i:j] - first
    slot = repeat(offset, cnt, total=m, xp=xp)
    slot += xp.arange(m, dtype=idt, device=device)  # in place: one output-sized temporary fewer
    n = take_nonneg(xp.reshape(b.order, (-1,)), slot, xp=xp)
    del slot
    return repeat(a, cnt, total=m, xp=xp), repeat(b.positives[i:j], cnt, total=m, xp=xp), n
