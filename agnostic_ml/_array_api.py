"""The one place that talks to array-api-compat and array-api-extra.

Algorithms in ``agnostic_ml`` never branch on the backend themselves. Everything that
differs between NumPy, CuPy, torch and array-api-strict, and every gap in the array API
standard, is handled here, each with a generic (pure-standard) fallback and a comment
citing the upstream issue.

Contract ("everything follows the embeddings"): the namespace and device of a call are
those of its embeddings. Host data (Python lists, tuples, NumPy arrays) given for labels
is converted once to that namespace and device; an array of a *different* non-host
namespace raises ``TypeError``.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

import numpy as np
import array_api_compat as aac
import array_api_extra as xpx
from ._typing import Array, Namespace

__all__ = [
    "namespace_and_device",
    "follow",
    "index_dtype",
    "to_numpy",
    "topk",
    "eye_mask",
    "nonzero",
    "take_rows",
    "floating_work_dtype",
    "has_data_dependent_shapes",
    "is_torch",
    "same_device",
    "is_dask_array",
    "from_host_indices",
    "euclidean_matrix",
    "requires_grad",
    "no_grad",
]


def namespace_and_device(*arrays: Any) -> tuple[Namespace, Any]:
    """Return the compat-wrapped namespace and the device of the first array.

    ``None`` and host data are skipped. Arrays of two different libraries raise
    ``TypeError`` (array_api_compat.array_namespace does that check).
    """
    arrs = [a for a in arrays if a is not None and not isinstance(a, (list, tuple, int, float, bool))]
    if not arrs:
        raise TypeError("expected at least one array argument, got none")
    try:
        xp = aac.array_namespace(*arrs)
    except TypeError as exc:
        kinds = sorted({type(a).__module__ + "." + type(a).__name__ for a in arrs})
        raise TypeError(
            f"arrays from different libraries were mixed ({', '.join(kinds)}); "
            "pass all arrays from the embeddings' library (labels may be host lists/NumPy)"
        ) from exc
    return xp, aac.device(arrs[0])


def same_device(a: Any, b: Any) -> bool:
    """Whether two devices are the same (compared by their string form).

    CuPy devices are unhashable and a ``torch.device`` never equals the string ``"cpu"``
    (scikit-learn#29107), so devices are compared as strings and never put in sets.
    """
    return str(a) == str(b)


def is_dask_array(x: Any) -> bool:
    """Whether ``x`` is a Dask array (lazy: the accuracy code dispatches those to Dask)."""
    return aac.is_dask_array(x)


def is_torch(xp: Namespace) -> bool:
    return aac.is_torch_namespace(xp)


def has_data_dependent_shapes(xp: Namespace) -> bool:
    """Whether ``xp.nonzero`` / boolean indexing are available (array-api#84)."""
    info = getattr(xp, "__array_namespace_info__", None)
    if info is None:
        return True
    try:
        return bool(info().capabilities().get("data-dependent shapes", True))
    except Exception:  # pragma: no cover - defensive for exotic namespaces
        return True


def index_dtype(xp: Namespace, device: Any = None) -> Any:
    """The namespace's default indexing dtype (int64 on torch/NumPy/strict)."""
    return xpx.default_dtype(xp, "indexing", device=device)


def floating_work_dtype(dtype: Any, xp: Namespace) -> Any:
    """dtype to *compute* in: float16/bfloat16 are upcast to float32, else unchanged.

    Half precision distances lose too much precision in the Gram trick (and torch.cdist
    has no half kernel), so we compute in float32 and cast results back.
    """
    if dtype in (xp.float32, xp.float64):
        return dtype
    return xp.float32


def follow(x: Any, xp: Namespace, device: Any, *, name: str, dtype: Any = None) -> Array:
    """Convert ``x`` to ``xp`` on ``device`` if it is host data; check it otherwise.

    This is the one ``asarray`` of host data that the conventions allow. An array of
    ``xp`` is returned as-is (never re-``asarray``-ed, which on torch can drop
    ``requires_grad``, pytorch#170819); an array of another library raises ``TypeError``.
    """
    if isinstance(x, np.ndarray) and not aac.is_numpy_namespace(xp):
        return xp.asarray(x, dtype=dtype, device=device)
    if isinstance(x, (list, tuple)):
        try:
            arr = np.asarray(x)
        except ValueError as exc:
            raise TypeError(f"{name} must be a flat sequence of numbers, got a ragged {type(x).__name__}") from exc
        if arr.dtype == object:
            raise TypeError(f"{name} must contain numbers, got {type(x).__name__} of objects")
        if arr.size == 0:
            arr = arr.astype(np.int64)
        return xp.asarray(arr, dtype=dtype, device=device)
    if isinstance(x, (np.generic, int, float, bool)):
        return xp.asarray(x, dtype=dtype, device=device)
    try:
        other = aac.array_namespace(x)
    except TypeError as exc:
        raise TypeError(
            f"{name} must be an array or a sequence of numbers, got {type(x).__name__}"
        ) from exc
    if other is not xp and not (aac.is_numpy_namespace(other) and aac.is_numpy_namespace(xp)):
        raise TypeError(
            f"{name} is a {type(x).__module__}.{type(x).__name__} but the embeddings use "
            f"{getattr(xp, '__name__', xp)}; pass {name} as host data (list/NumPy) or "
            "from the embeddings' library"
        )
    if not same_device(aac.device(x), device):
        raise ValueError(f"{name} is on device {aac.device(x)} but the embeddings are on {device}")
    if dtype is not None and x.dtype != dtype:
        return xp.astype(x, dtype)
    return x


def to_numpy(x: Array) -> np.ndarray:
    """Copy an array of any supported backend to a NumPy array (an explicit API edge)."""
    if isinstance(x, np.ndarray):
        return x
    if aac.is_torch_array(x):
        return x.detach().cpu().numpy()
    if aac.is_cupy_array(x):
        return x.get()
    if aac.is_array_api_strict_namespace(aac.array_namespace(x)):
        import array_api_strict

        # strict refuses __array__ off its CPU device (by design), so move it first.
        return np.asarray(x.to_device(array_api_strict.Device("CPU_DEVICE")))
    if aac.is_dask_array(x):
        return np.asarray(x.compute())
    return np.asarray(aac.to_device(x, "cpu"))


def from_host_indices(idx: np.ndarray, xp: Namespace, device: Any) -> Array:
    """Move host integer indices to ``xp``/``device`` with the indexing dtype."""
    return xp.asarray(np.ascontiguousarray(idx, dtype=np.int64), dtype=index_dtype(xp, device), device=device)


def eye_mask(n: int, m: int | None, xp: Namespace, device: Any, *, k: int = 0) -> Array:
    """Boolean (n, m) mask that is True on the k-th diagonal."""
    return xp.eye(n, m, k=k, dtype=xp.bool, device=device)


def nonzero(mask: Array, xp: Namespace) -> tuple[Array, ...]:
    """``xp.nonzero`` with the indexing dtype, also where the namespace lacks it.

    ``nonzero`` has a data-dependent output shape, an optional capability of the standard
    (array-api#84); array-api-strict in its strictest mode and torch's ``meta`` device do not
    provide it. Miners only call this at the public boundary; when the capability is missing
    we compute the indices on the host and move them back once.
    Row-major order, as NumPy and torch return it.
    """
    device = aac.device(mask)
    if has_data_dependent_shapes(xp):
        out = xp.nonzero(mask)
        idt = index_dtype(xp, device)
        return tuple(o if o.dtype == idt else xp.astype(o, idt) for o in out)
    host = np.nonzero(to_numpy(mask))
    return tuple(from_host_indices(h, xp, device) for h in host)


def take_rows(x: Array, idx: Array, xp: Namespace) -> Array:
    """Gather rows ``x[idx, ...]``; differentiable on torch (``index_select``)."""
    return xp.take(x, idx, axis=0)


def topk(x: Array, k: int, *, largest: bool = False, xp: Namespace) -> tuple[Array, Array]:
    """The ``k`` smallest (or largest) entries of each row of a 2-D array, sorted.

    Ties are broken deterministically: among equal values the lower column index comes
    first, on every backend (faiss and ``torch.topk`` do not promise this: faiss#808).

    top-k is not in the standard yet (array-api#629; compat PR #446). Fast paths:
    ``torch.topk`` and NumPy/CuPy ``argpartition``; generic fallback: a stable argsort.
    Only rows whose k-th value is tied with an unselected entry are repaired, with one
    extra pass over those rows.
    """
    if x.ndim != 2:
        raise ValueError(f"topk expects a 2-D array, got shape {tuple(x.shape)}")
    n, m = x.shape
    if not (0 <= k <= m):
        raise ValueError(f"k must be in [0, {m}], got {k}")
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
    elif aac.is_numpy_namespace(xp) or aac.is_cupy_namespace(xp):
        mod = np if aac.is_numpy_namespace(xp) else __import__("cupy")
        key = -x if largest else x
        pre = _numpy_prefilter(key, k) if mod is np else None
        if pre is not None:
            # Exact top-k of the candidates (their columns ascend, so ties still go to the
            # lower column), mapped back to the original columns.
            cand_vals, cand_cols = pre
            v, pos = topk(cand_vals, k, largest=False, xp=xp)
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
        rows = from_host_indices(tied_rows, xp, device)
        sub = xp.take(x, rows, axis=0)
        order = xp.argsort(sub, axis=1, descending=largest, stable=True)[:, :k]
        fixed = xp.astype(order, idt)
        cand = xpx.at(cand, rows).set(fixed, copy=True) if not is_torch(xp) else _torch_row_set(cand, rows, fixed)
        vals = xp.take_along_axis(x, cand, axis=1)
    # Sort the k candidates by (value, index): index-sort first, then a stable value sort.
    by_idx = xp.argsort(cand, axis=1, stable=True)
    cand = xp.take_along_axis(cand, by_idx, axis=1)
    vals = xp.take_along_axis(vals, by_idx, axis=1)
    by_val = xp.argsort(vals, axis=1, descending=largest, stable=True)
    return xp.take_along_axis(vals, by_val, axis=1), xp.take_along_axis(cand, by_val, axis=1)


def _numpy_prefilter(key: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Candidates that surely contain each row's k smallest entries, or None.

    ``numpy.argpartition`` is single-threaded and costs ~10 ns per element, more than the
    GEMM that produced the block (it was 54% of a 10k x 10k kNN). A per-row threshold taken
    from a strided sample of columns (about twice the expected k-th value's rank) selects a
    few times k candidates with one comparison pass; rows are then packed into a small
    padded matrix (columns ascending, padding +inf at column ``m``). Exact: every entry
    ``<=`` the threshold is kept, and if any row got fewer than ``k`` candidates the caller
    falls back to the full partition.
    """
    n, m = key.shape
    if m < 4096 or 16 * k > m or n == 0:
        return None
    stride = max(1, m // max(1024, 32 * k))
    sample = key[:, ::stride]
    s = sample.shape[1]
    j = min(s - 1, int(np.ceil(2.0 * k * s / m)) + 8)
    thr = np.partition(sample, j, axis=1)[:, j]
    mask = key <= thr[:, None]
    counts = np.count_nonzero(mask, axis=1)
    width = int(counts.max())
    if int(counts.min()) < k or 4 * width > m:
        return None
    flat = np.flatnonzero(mask)
    rows, cols = np.divmod(flat, m)
    starts = np.cumsum(counts) - counts
    pos = np.arange(flat.shape[0]) - np.repeat(starts, counts)
    cand_cols = np.full((n, width), m, dtype=np.int64)
    cand_vals = np.full((n, width), np.inf, dtype=key.dtype)
    cand_cols[rows, pos] = cols
    cand_vals[rows, pos] = key.reshape(-1)[flat]
    return cand_vals, cand_cols


def _torch_row_set(cand: Array, rows: Array, fixed: Array) -> Array:
    out = cand.clone()
    out[rows] = fixed
    return out


def requires_grad(*arrays: Array) -> bool:
    """True when any array is a torch tensor that autograd is tracking."""
    for a in arrays:
        if a is not None and aac.is_torch_array(a) and a.requires_grad:
            import torch

            return torch.is_grad_enabled()
    return False


def euclidean_matrix(q: Array, r: Array, *, xp: Namespace) -> Array:
    """Euclidean distance matrix by the Gram identity ``|q|^2 + |r|^2 - 2 q.r``.

    ``r is q`` marks the self matrix, whose diagonal is set to exact zeros (rounding would
    otherwise leave ~1e-4 after the square root). The result is clamped at 0 before the
    square root, whose gradient is 0 rather than NaN where the distance is 0.

    Fast paths (the generic expression makes ~8 passes over the N x M matrix, which at
    D = 128 costs as much as the GEMM itself): NumPy/CuPy make one GEMM of augmented
    operands, ``[-2q, |q|^2, 1] @ [r, 1, |r|^2]^T`` (as ``torch.cdist`` does), which yields
    the squared distances directly, then clamp and take the square root in place (2
    passes; on NumPy in cached row blocks over a few threads, see ``_gram_epilogue``).
    NumPy's self matrix at D >= 256 uses ``q @ q.T`` instead, which NumPy runs as a
    symmetric rank-k update. Measured (benchmarks/distances.py, OpenBLAS,
    1 thread, N = 2048): D = 128, 1.3x a bare GEMM instead of 2.3x for the previous
    ``g *= -2; g += |q|^2; g += |r|^2`` sequence on ``q @ q.T``; D = 512, 1.2x. Torch fuses
    ``-2 q.r + |r|^2`` into ``addmm``, then (without autograd) adds ``|q|^2``, clamps and
    takes the square root in place.
    """
    same = r is q
    device = aac.device(q)
    qq = xp.sum(q * q, axis=1)
    rr = qq if same else xp.sum(r * r, axis=1)
    n = q.shape[0]
    if (aac.is_numpy_namespace(xp) or aac.is_cupy_namespace(xp)) and q.ndim == 2:
        mod = np if aac.is_numpy_namespace(xp) else __import__("cupy")
        if same and mod is np and q.shape[1] >= 256:
            # NumPy runs q @ q.T as a symmetric rank-k update (syrk), which OpenBLAS makes
            # ~20 % faster than the augmented GEMM at D = 512 (but ~50 % slower at D = 128).
            g = np.matmul(q, q.T)
            _gram_epilogue(g, mod, qq, rr)
        else:
            g = mod.matmul(_augmented(q, qq, mod, left=True), _augmented(r, rr, mod, left=False).T)
            _gram_epilogue(g, mod)
        if same:
            mod.fill_diagonal(g, 0)
        return g
    if is_torch(xp):
        import torch

        # (The augmented GEMM measured no faster here: torch's in-place passes are threaded.)
        g = torch.addmm(rr[None, :], q, r.T, beta=1, alpha=-2)
        if not requires_grad(q, r):
            g.add_(qq[:, None]).clamp_(min=0).sqrt_()
            if same:
                g.fill_diagonal_(0)
            return g
        sq = g + qq[:, None]
    else:
        sq = qq[:, None] + rr[None, :] - 2 * xp.matmul(q, xp.matrix_transpose(r))
    if same and n > 0:
        sq = xp.where(eye_mask(n, n, xp, device), xp.zeros_like(sq), sq)
    pos = sq > 0
    return xp.where(pos, xp.sqrt(xp.where(pos, sq, xp.ones_like(sq))), xp.zeros_like(sq))


@contextlib.contextmanager
def no_grad(xp: Namespace) -> Iterator[None]:
    """Disable autograd on torch (miners run without a graph, as in PML); no-op elsewhere."""
    if is_torch(xp):
        import torch

        with torch.no_grad():
            yield
    else:
        yield


# --- appended by the tuples/reducers work: repeat and weighted bincount ----------------------


def repeat(x: Array, repeats: Array, *, total: int | None = None, xp: Namespace) -> Array:
    """``x[i]`` repeated ``repeats[i]`` times (1-D), like ``numpy.repeat(x, repeats)``.

    ``total`` (``sum(repeats)``, a Python int) saves a device sync where it is known.
    ``repeat`` with an array of repeats is in the standard since 2023.12 but needs the
    optional data-dependent-shapes capability (array-api#84; array-api-strict's strictest
    mode refuses it), and ``cupy.repeat`` accepts only an int, list or tuple of repeats
    (not a ``cupy.ndarray``). Fast paths: ``torch.repeat_interleave`` (with ``output_size``:
    no sync) and ``numpy.repeat``. Generic fallback, pure standard and fixed-shape once the
    total is known: the owner of output slot ``t`` is
    ``searchsorted(cumsum(repeats), t, side="right")``.
    """
    device = aac.device(x)
    if is_torch(xp):
        import torch

        if x.device.type == "cpu" and not x.requires_grad:
            # torch.repeat_interleave on CPU measured ~8x slower than numpy.repeat (torch 2.13,
            # 7M outputs); CPU tensors share memory with NumPy, so no copy is made.
            return torch.from_numpy(np.repeat(x.numpy(), repeats.numpy()))
        return torch.repeat_interleave(x, repeats, output_size=total)
    if aac.is_numpy_namespace(xp):
        return np.repeat(x, repeats)
    if total is None:
        total = int(to_numpy(xp.sum(repeats)))
    idt = index_dtype(xp, device)
    if total == 0:
        return x[:0]
    ends = xp.cumulative_sum(xp.astype(repeats, idt))
    owner = xp.searchsorted(ends, xp.arange(total, dtype=idt, device=device), side="right")
    return xp.take(x, owner, axis=0)


def weighted_bincount(ids: Array, weights: Array, n: int, *, xp: Namespace) -> Array:
    """``out[k] = sum(weights[ids == k])`` for ``k < n`` (1-D), in ``weights``' dtype.

    A segment sum in O(len(ids)) memory (a one-hot matmul over all of ``ids`` would be
    O(len(ids) * n)). There is no bincount / segment sum in the standard (array-api#812,
    spec PR #960). Fast paths: torch ``index_add`` (differentiable; raises on ids out of
    range) and NumPy/CuPy ``bincount`` (float64 accumulation, cast back; these libraries
    have no autograd). Generic fallback: one-hot matmuls over chunks of ``ids`` with
    O(2**22) memory each (differentiable where the namespace is); ids out of range are
    dropped there. ``ids`` must be integer and in ``[0, n)``.
    """
    device = aac.device(weights)
    if is_torch(xp):
        import torch

        out = torch.zeros(n, dtype=weights.dtype, device=weights.device)
        return out.index_add(0, ids.to(torch.int64), weights)
    if aac.is_numpy_namespace(xp) or aac.is_cupy_namespace(xp):
        mod = np if aac.is_numpy_namespace(xp) else __import__("cupy")
        out = mod.bincount(ids, weights=weights, minlength=n)
        if out.shape[0] > n:
            raise ValueError(f"ids must be in [0, {n}), got a maximum of {out.shape[0] - 1}")
        return out.astype(weights.dtype, copy=False)
    m = ids.shape[0]
    out = xp.zeros((n,), dtype=weights.dtype, device=device)
    if m == 0 or n == 0:
        return out
    classes = xp.arange(n, dtype=ids.dtype, device=device)
    chunk = max(1, (1 << 22) // n)
    for s in range(0, m, chunk):
        e = min(s + chunk, m)
        onehot = xp.astype(xp.expand_dims(ids[s:e], axis=1) == xp.expand_dims(classes, axis=0), weights.dtype)
        out = out + xp.matmul(weights[s:e], onehot)
    return out


# --- appended by the pair-miners work (HDCMiner): linear-time k-th value ---------------------


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
    if aac.is_numpy_namespace(xp) or aac.is_cupy_namespace(xp):
        mod = np if aac.is_numpy_namespace(xp) else __import__("cupy")
        return mod.reshape(mod.partition(x, k - 1)[k - 1 : k], ())
    if is_torch(xp):
        import torch

        if x.device.type == "cpu" and x.dtype != torch.bfloat16:
            host = x.detach().numpy()
            return torch.from_numpy(np.reshape(np.partition(host, k - 1)[k - 1 : k], ()).copy())
        return torch.sort(x).values[k - 1]
    return xp.sort(x)[k - 1]


# --- appended by the triplet-miners work: gather with known non-negative indices -------------


def take_nonneg(x: Array, idx: Array, *, axis: int = 0, xp: Namespace) -> Array:
    """``xp.take(x, idx, axis=axis)`` for indices known to be in ``[0, x.shape[axis])``.

    array-api-compat's torch ``take`` first rewrites negative indices with
    ``torch.where(idx < 0, idx + n, idx)`` (pytorch#146211: ``index_select`` rejects them),
    three extra passes over the indices that cost as much as the gather itself for the
    millions of indices a triplet miner writes. Fast path: ``torch.index_select`` directly.
    Generic fallback: ``xp.take``.
    """
    if is_torch(xp):
        import torch

        return torch.index_select(x, axis, idx)
    return xp.take(x, idx, axis=axis)


# --- appended by the pair-miners work: fast 2-D nonzero --------------------------------------


def nonzero_2d(mask: Array, xp: Namespace) -> tuple[Array, Array]:
    """Row-major ``(rows, cols)`` of the True entries of a 2-D mask, with the indexing dtype.

    NumPy fast path: ``flatnonzero`` and one ``divmod``. NumPy's ``nonzero`` on a 2-D array
    takes a generic element-by-element path (numpy#11569; the 2-D fast path of numpy
    PR #27519 is not merged): measured ~10x slower than the 1-D call for a sparse and
    ~1.5x for a dense 1024 x 1024 mask (numpy 2.4). torch on CPU: the same NumPy code on
    the zero-copy view of the tensor, 1.1-4x faster than ``torch.nonzero`` there (torch 2.13,
    one thread; most for sparse or scattered masks). Every other backend: :func:`nonzero`.
    """
    if mask.ndim == 2 and mask.shape[1] > 0:
        host = None
        if aac.is_numpy_namespace(xp):
            host = mask
        elif is_torch(xp) and mask.device.type == "cpu":
            host = mask.detach().numpy()
        if host is not None:
            rows, cols = np.divmod(np.flatnonzero(host), host.shape[1])
            rows, cols = rows.astype(np.int64, copy=False), cols.astype(np.int64, copy=False)
            if aac.is_numpy_namespace(xp):
                return rows, cols
            import torch

            return torch.from_numpy(rows), torch.from_numpy(cols)
    return nonzero(mask, xp)  # type: ignore[return-value]


# --- appended by the distances work: helpers of euclidean_matrix's NumPy/CuPy fast path ---------


def _augmented(x: Array, sq: Array, mod: Any, *, left: bool) -> Array:
    """``[-2x, |x|^2, 1]`` (left) or ``[x, 1, |x|^2]`` (right): their product is ``|q - r|^2``."""
    one = mod.ones_like(sq)[:, None]  # follows x's device (cupy: no device= argument, cupy#9848)
    parts = [x * -2, sq[:, None], one] if left else [x, one, sq[:, None]]
    return mod.concatenate(parts, axis=1)


def _gram_epilogue(g: Array, mod: Any, qq: Array | None = None, rr: Array | None = None) -> None:
    """In place: ``g = sqrt(max(g, 0))``, or ``sqrt(max(|q|^2 + |r|^2 - 2 g, 0))`` when ``qq``/``rr`` are given.

    NumPy's ufuncs run on one core while the GEMM before them uses all of them, so on
    NumPy the matrix is processed in row blocks (small enough to stay in cache across the
    passes) spread over a few threads (the ufuncs release the GIL): matrices below ~4M
    entries use one thread. The thread count follows the CPUs this process may use, capped
    at 8 and by OMP_NUM_THREADS / OPENBLAS_NUM_THREADS / MKL_NUM_THREADS when set.
    """
    n, m = g.shape
    if mod is not np:
        if qq is not None:
            g *= -2
            g += qq[:, None]
            g += rr[None, :]
        mod.maximum(g, 0, out=g)
        mod.sqrt(g, out=g)
        return
    step = max(8, (1 << 16) // max(1, m))
    row = None if rr is None else rr[None, :]
    # maximum(x, 0) with a broadcast *row* of zeros takes NumPy's vectorised loop: 0.22 ms
    # per 1M float32 entries against 0.6-0.95 ms with a scalar 0 (numpy 2.4).
    zeros = np.zeros((1, m), dtype=g.dtype)

    def work(lo: int, hi: int) -> None:
        for s in range(lo, hi, step):
            blk = g[s : min(s + step, hi)]
            if qq is not None:
                blk *= -2
                blk += qq[s : min(s + step, hi), None]
                blk += row
            np.maximum(blk, zeros, out=blk)
            np.sqrt(blk, out=blk)

    workers = _epilogue_threads(n * m)
    if workers <= 1:
        work(0, n)
        return
    from concurrent.futures import ThreadPoolExecutor

    bounds = np.linspace(0, n, workers + 1).astype(int).tolist()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(work, bounds[:-1], bounds[1:]))


def _epilogue_threads(size: int) -> int:
    import os

    # Measured (2 cores, OpenBLAS): threads save ~15 % of the epilogue from 4096 x 4096 on,
    # but cost more than they save at 1024 x 1024 (pool start-up, BLAS threads still spinning).
    if size < (1 << 22):
        return 1
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        n = os.cpu_count() or 1
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        v = os.environ.get(var, "")
        if v.isdigit() and int(v) > 0:
            n = min(n, int(v))
    return max(1, min(n, 8, size >> 21))


# --- appended by the accuracy work: sort values along an axis (no indices, not stable) -----------


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


# --- kNN ranking: squared-L2 scores and in-place self masking ---------------------------------


def l2_rank_scores(q: Array, r: Array, rr: Array, *, xp: Namespace) -> Array:
    """``|r_j|^2 - 2 q_i . r_j``: per query row, the squared L2 distance minus the constant ``|q_i|^2``.

    Ranking by these scores ranks by Euclidean distance; the exact distances are then needed
    only for the k selected entries. Fast paths fold the ``-2`` into the small ``q`` before
    the GEMM and add ``|r|^2`` in one in-place pass (NumPy/CuPy), or fuse both into
    ``addmm`` (torch); the generic fallback is the plain expression.
    """
    if aac.is_numpy_namespace(xp) or aac.is_cupy_namespace(xp):
        mod = np if aac.is_numpy_namespace(xp) else __import__("cupy")
        g = mod.matmul(q * q.dtype.type(-2), r.T)
        g += rr[None, :]
        return g
    if is_torch(xp):
        import torch

        return torch.addmm(rr[None, :], q, r.T, beta=1, alpha=-2)
    return rr[None, :] - 2 * xp.matmul(q, xp.matrix_transpose(r))


def fill_self(mat: Array, row_offset: int, col_offset: int, value: float, *, xp: Namespace) -> Array:
    """Set ``mat[i, j] = value`` where ``row_offset + i == col_offset + j`` (a query meeting itself).

    NumPy/CuPy/torch (outside autograd) write the few entries in place; strict forbids
    integer-array setitem, so the generic fallback is an ``xp.where`` over an equality mask.
    """
    rows, cols = mat.shape
    lo = max(row_offset, col_offset)
    hi = min(row_offset + rows, col_offset + cols)
    if hi <= lo:
        return mat
    device = aac.device(mat)
    if aac.is_numpy_namespace(xp) or aac.is_cupy_namespace(xp) or (is_torch(xp) and not requires_grad(mat)):
        g = np.arange(lo, hi)
        if is_torch(xp):
            import torch

            gi = torch.as_tensor(g, device=mat.device)
            mat[gi - row_offset, gi - col_offset] = value
        else:
            mod = np if aac.is_numpy_namespace(xp) else __import__("cupy")
            gi = mod.asarray(g)
            mat[gi - row_offset, gi - col_offset] = value
        return mat
    idt = index_dtype(xp, device)
    r = xp.arange(row_offset, row_offset + rows, dtype=idt, device=device)
    c = xp.arange(col_offset, col_offset + cols, dtype=idt, device=device)
    return xp.where(r[:, None] == c[None, :], xp.asarray(value, dtype=mat.dtype, device=device), mat)


# --- Gram products: avoid NumPy's slow symmetric path for narrow self products --------------


def gram(q: Array, r: Array, *, xp: Namespace) -> Array:
    """``q @ r.T``.

    NumPy hands ``q @ q.T`` (one buffer, transposed) to BLAS ``syrk``, which OpenBLAS ran
    ~1.7-2x slower than ``gemm`` for D = 128 here (N = 1024: 10.4 vs 6.0 ms; N = 4096:
    183 vs 89 ms) but ~20% faster at D >= 256 (see ``euclidean_matrix``). For narrow self
    products a contiguous copy of ``q.T`` (O(N D), negligible) makes NumPy take ``gemm``.
    Every other namespace: ``xp.matmul(q, matrix_transpose(r))``.
    """
    if aac.is_numpy_namespace(xp) and r is q and q.ndim == 2 and q.shape[1] < 256:
        return np.matmul(q, np.ascontiguousarray(q.T))
    return xp.matmul(q, xp.matrix_transpose(r))
