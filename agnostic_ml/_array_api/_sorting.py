"""Selection and sorting: top-k, k-th smallest value, values-only sort.

top-k and partition are not in the standard (array-api#629; compat PR #446), and the
standard's ``sort`` is stable by default, which is slower than needed for values alone.
Each helper has native fast paths and a pure-standard fallback.
"""

from __future__ import annotations

import math

import numpy as np
import array_api_compat as aac
import array_api_extra as xpx

from .._typing import Array, Namespace
from ._host import from_host_indices, to_numpy
from ._namespace import index_dtype, is_torch, numpy_like
from ._products import _epilogue_threads


def topk(x: Array, k: int, *, largest: bool = False, xp: Namespace) -> tuple[Array, Array]:
    """The ``k`` smallest (or largest) entries of each row of a 2-D array, sorted.

    Ties are broken deterministically: among equal values the lower column index comes
    first, on every backend (faiss and ``torch.topk`` do not promise this: faiss#808).

    top-k is not in the standard yet (array-api#629; compat PR #446). Fast paths:
    ``torch.topk`` and NumPy/CuPy ``argpartition`` (NumPy: row blocks over a few threads for
    blocks of 4M entries or more); generic fallback: a stable argsort.
    Only rows whose k-th value is tied with an unselected entry are repaired, with one
    extra pass over those rows.
    """
    if x.ndim != 2:
        raise ValueError(f"topk expects a 2-D array, got shape {tuple(x.shape)}")
    n, m = x.shape
    if not (0 <= k <= m):
        raise ValueError(f"k must be in [0, {m}], got {k}")
    if 0 < k < m and numpy_like(xp) is np:
        # NumPy's selection runs on one core: split the rows over threads (partition,
        # comparisons and flatnonzero release the GIL), as _gram_epilogue does. Rows are
        # independent, so the result is the same as one call's.
        workers = _epilogue_threads(n * m)
        if workers > 1 and n >= 2 * workers:
            from concurrent.futures import ThreadPoolExecutor

            bounds = np.linspace(0, n, workers + 1).astype(int).tolist()
            with ThreadPoolExecutor(workers) as pool:
                parts = list(pool.map(lambda lo, hi: _topk_rows(x[lo:hi], k, largest=largest, xp=xp), bounds[:-1], bounds[1:]))
            return np.concatenate([v for v, _ in parts]), np.concatenate([i for _, i in parts])
    return _topk_rows(x, k, largest=largest, xp=xp)


def _topk_rows(x: Array, k: int, *, largest: bool, xp: Namespace) -> tuple[Array, Array]:
    """:func:`topk` on validated arguments, in the calling thread."""
    n, m = x.shape
    device = aac.device(x)
    idt = index_dtype(xp, device)
    if k == 0:
        return x[:, :0], xp.zeros((n, 0), dtype=idt, device=device)
    if k == m or n == 0:
        order = xp.argsort(x, axis=1, descending=largest, stable=True)
        order = order[:, :k]
        return xp.take_along_axis(x, order, axis=1), xp.astype(order, idt)

    native = None
    if is_torch(xp):
        native = x.topk(k, dim=1, largest=largest, sorted=True)[1]
    elif (mod := numpy_like(xp)) is not None:
        key = -x if largest else x
        pre = _numpy_prefilter(key, k) if mod is np else None
        if pre is not None:
            # Exact top-k of the candidates (their columns ascend, so ties still go to the
            # lower column), mapped back to the original columns.
            cand_vals, cand_cols = pre
            v, pos = _topk_rows(cand_vals, k, largest=False, xp=xp)
            return (-v if largest else v), np.take_along_axis(cand_cols, pos, axis=1)
        native = mod.argpartition(key, k - 1, axis=1)[:, :k]
    if native is None:
        order = xp.argsort(x, axis=1, descending=largest, stable=True)[:, :k]
        return xp.take_along_axis(x, order, axis=1), xp.astype(order, idt)

    cand = xp.astype(native, idt)
    vals = xp.take_along_axis(x, cand, axis=1)
    kth = xp.max(vals, axis=1) if not largest else xp.min(vals, axis=1)
    # Entries at least as good as the k-th value: more than k means a tie at the boundary.
    better_eq = (x <= kth[:, None]) if not largest else (x >= kth[:, None])
    # count_nonzero, not sum(astype(int64)): the cast writes 8 bytes per element (measured 5x slower).
    n_ok = xp.count_nonzero(better_eq, axis=1)
    tied_rows = to_numpy(n_ok > k).nonzero()[0]
    if tied_rows.size:
        rows = from_host_indices(tied_rows, xp=xp, device=device)
        sub = xp.take(x, rows, axis=0)
        order = xp.argsort(sub, axis=1, descending=largest, stable=True)[:, :k]
        fixed = xp.astype(order, idt)
        cand = xpx.at(cand, rows).set(fixed, copy=True) if not is_torch(xp) else _torch_row_set(cand, rows, fixed)
        vals = xp.take_along_axis(x, cand, axis=1)
    # Sort the k candidates by (value, index): by index first (distinct integers, so any
    # sort gives the same order), then a stable value sort.
    cand = sort_values(cand, axis=1, xp=xp)
    vals = xp.take_along_axis(x, cand, axis=1)
    by_val = _stable_argsort_rows(vals, largest=largest, xp=xp)
    return xp.take_along_axis(vals, by_val, axis=1), xp.take_along_axis(cand, by_val, axis=1)


def _stable_argsort_rows(vals: Array, *, largest: bool, xp: Namespace) -> Array:
    """``xp.argsort(vals, axis=1, descending=largest, stable=True)``.

    NumPy fast path: its stable sort of floats is a timsort, ~3x slower than the default
    introsort; the two orders differ only within runs of equal values, so the introsort
    order is kept for rows without two equal values and only rows with a tie are sorted
    stably.
    """
    if numpy_like(xp) is np and vals.ndim == 2 and vals.shape[1] > 1:
        key = -vals if largest else vals
        order = np.argsort(key, axis=1)
        s = np.take_along_axis(key, order, axis=1)
        tied = np.flatnonzero(np.any(s[:, 1:] == s[:, :-1], axis=1))
        if tied.size:
            order[tied] = np.argsort(key[tied], axis=1, kind="stable")
        return order
    return xp.argsort(vals, axis=1, descending=largest, stable=True)


def _numpy_prefilter(key: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Candidates that surely contain each row's k smallest entries, or None.

    ``numpy.argpartition`` is single-threaded and costs ~10 ns per element, more than the
    GEMM that produced the block (it was 54% of a 10k x 10k kNN). A per-row threshold taken
    from a strided sample of columns (about twice the expected k-th value's rank) selects a
    few times k candidates with one comparison pass (a sample of >= max(1024, 2k) columns:
    its rank-j value is below the row's k-th only with a negligible binomial probability);
    rows are then packed into a small
    padded matrix (columns ascending, padding +inf at column ``m``). Exact: every entry
    ``<=`` the threshold is kept, and if any row got fewer than ``k`` candidates the caller
    falls back to the full partition.
    """
    n, m = key.shape
    if m < 4096 or 16 * k > m or n == 0:
        return None
    stride = max(1, m // max(1024, 2 * k))
    sample = key[:, ::stride]
    s = sample.shape[1]
    j = min(s - 1, int(np.ceil(2.0 * k * s / m)) + 8)
    thr = np.partition(sample, j, axis=1)[:, j]
    flat = np.flatnonzero(key <= thr[:, None])
    if 4 * flat.shape[0] > n * m:
        return None
    rows, cols = np.divmod(flat, m)
    counts = np.bincount(rows, minlength=n)  # cheaper than count_nonzero(mask, axis=1) on the full block
    width = int(counts.max())
    if int(counts.min()) < k or 4 * width > m:
        return None
    starts = np.cumsum(counts) - counts
    # Position of each kept entry in the padded (n, width) matrix, as one flat index:
    # 1-D scatters and a gather from the small ``starts`` beat 2-D fancy indexing and
    # ``repeat`` (measured 3x on 500 x 20000 blocks).
    dest = rows * width + (np.arange(flat.shape[0]) - starts[rows])
    cand_cols = np.full(n * width, m, dtype=np.int64)
    cand_vals = np.full(n * width, np.inf, dtype=key.dtype)
    cand_cols[dest] = cols
    cand_vals[dest] = key.reshape(-1)[flat]
    return cand_vals.reshape(n, width), cand_cols.reshape(n, width)


def _torch_row_set(cand: Array, rows: Array, fixed: Array) -> Array:
    out = cand.clone()
    out[rows] = fixed
    return out


def kth_smallest(x: Array, k: int, *, xp: Namespace) -> Array:
    """The ``k``-th smallest value (1-based) of a 1-D array, as a 0-D array of ``x``'s dtype.

    A selection is O(n) where a sort is O(n log n); the standard has neither ``partition``
    nor top-k yet (array-api#629, compat PR #446). Fast paths: NumPy/CuPy ``partition``;
    torch on CPU: NumPy's ``partition`` on the zero-copy view of the tensor
    (``torch.kthvalue`` measured 10-40x slower than ``numpy.partition`` for 2**20 float32
    values on CPU, torch 2.13, and ``torch.topk`` with k ~ n/2 slower still; on CUDA
    ``kthvalue`` is slower than a sort, pytorch#75599), so other torch devices sort (radix
    sort on CUDA). Generic fallback: ``xp.sort(x)[k - 1]``.
    """
    if x.ndim != 1:
        raise ValueError(f"kth_smallest expects a 1-D array, got shape {tuple(x.shape)}")
    n = x.shape[0]
    if not 1 <= k <= n:
        raise ValueError(f"k must be in [1, {n}], got {k}")
    mod = numpy_like(xp)
    if mod is np:
        return np.reshape(_np_kth_smallest(x, k), ())
    if mod is not None:
        return mod.reshape(mod.partition(x, k - 1)[k - 1 : k], ())
    if is_torch(xp):
        import torch

        if x.device.type == "cpu" and x.dtype != torch.bfloat16:
            host = x.detach().numpy()
            return torch.from_numpy(np.reshape(_np_kth_smallest(host, k), ()).copy())
        return torch.sort(x).values[k - 1]
    return xp.sort(x)[k - 1]


def _np_kth_smallest(x: np.ndarray, k: int) -> np.ndarray:
    """The ``k``-th smallest value (1-based) of a 1-D NumPy array, as a 1-element array.

    Large arrays use a sampled bracket: ``numpy.partition`` costs ~10 ns per element
    (single-threaded introselect; 10 ms for the 2**20 entries of a 1024 x 1024 distance
    matrix, 5x the GEMM that made it), whereas a comparison pass costs ~0.3 ns. A strided
    sample of ~16k entries gives values ``lo <= hi`` that bracket the k-th value with
    overwhelming probability (the sample ranks k/n +- 5 binomial standard deviations);
    one pass counts the entries below ``lo``, one more keeps those in ``[lo, hi]`` (a few
    per cent of the array), and only they are partitioned. The result is exact: if the
    bracket misses (counts say so), the full partition runs.
    """
    n = x.shape[0]
    if n >= 1 << 17:
        stride = n // 16384
        sample = x[::stride]
        s = sample.shape[0]
        q = (k - 1) * (s - 1) / max(1, n - 1)
        p = (k - 0.5) / n
        margin = 5.0 * math.sqrt(s * p * (1.0 - p)) + 8.0
        jlo, jhi = int(math.floor(q - margin)), int(math.ceil(q + margin))
        if jlo > 0 or jhi < s - 1:
            jlo, jhi = max(jlo, 0), min(jhi, s - 1)
            part = np.partition(sample, (jlo, jhi))
            lo = part[jlo] if jlo > 0 else -np.inf
            hi = part[jhi] if jhi < s - 1 else np.inf
            below = int(np.count_nonzero(x < lo))
            if below < k:
                inside = x[(x >= lo) & (x <= hi)]
                j = k - 1 - below
                if j < inside.shape[0]:
                    return np.partition(inside, j)[j : j + 1]
    return np.partition(x, k - 1)[k - 1 : k]


def sort_values(x: Array, *, axis: int = -1, xp: Namespace) -> Array:
    """``xp.sort(x, axis=axis, stable=False)``: the values only, in increasing order.

    The standard's ``sort`` defaults to ``stable=True``, which NumPy runs as a radix/timsort
    (several times slower than its SIMD quicksort on floats); values alone never need
    stability. Fast path: torch on CPU without autograd sorts through NumPy on the shared
    memory, because torch's CPU float sort is an order of magnitude slower (pytorch#107098:
    9.1 s vs NumPy's 0.41 s for float32; measured here 1.3 s vs 0.1 s for 1000 x 10000;
    pytorch PR #193645 is open). Generic fallback: ``xp.sort(..., stable=False)``.
    """
    if is_torch(xp) and x.device.type == "cpu" and not x.requires_grad:
        import torch

        return torch.from_numpy(np.sort(x.numpy(), axis=axis))
    return xp.sort(x, axis=axis, stable=False)


def searchsorted(x1: Array, x2: Array, *, side: str = "left", xp: Namespace) -> Array:
    """Insertion indices of ``x2`` into ``x1``, sorted along the last axis; batched over leading axes.

    The standard's ``searchsorted`` needs a 1-D ``x1``. Fast path: ``torch.searchsorted``,
    which is batched natively. Generic: ``array_api_extra.searchsorted`` (batched by a loop
    over the leading axes where the backend's own function is 1-D).
    """
    if is_torch(xp):
        import torch

        return torch.searchsorted(x1.contiguous(), x2.contiguous(), side=side)
    return xpx.searchsorted(x1, x2, side=side, xp=xp)
