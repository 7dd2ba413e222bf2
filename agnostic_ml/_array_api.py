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

__all__ = [
    "namespace_and_device",
    "follow",
    "index_dtype",
    "is_host_data",
    "to_numpy",
    "topk",
    "segment_sum",
    "eye_mask",
    "nonzero",
    "take_rows",
    "floating_work_dtype",
    "scalar",
    "has_data_dependent_shapes",
    "is_torch",
    "from_host_indices",
    "euclidean_matrix",
    "requires_grad",
    "no_grad",
]

Array = Any
Namespace = Any


def is_host_data(x: Any) -> bool:
    """True for data that lives on the host and is not an array of another library."""
    return isinstance(x, (list, tuple, np.ndarray, np.generic, int, float, bool))


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
    if str(aac.device(x)) != str(device):
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


def scalar(value: float | int | bool, like: Array, xp: Namespace, dtype: Any = None) -> Array:
    """A 0-D array of ``value`` on ``like``'s device (and dtype unless given)."""
    return xp.asarray(value, dtype=like.dtype if dtype is None else dtype, device=aac.device(like))


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


def segment_sum(values: Array, ids: Array, n_segments: int, *, xp: Namespace) -> Array:
    """Sum rows of ``values`` (shape (N,) or (N, D)) into ``n_segments`` buckets by ``ids``.

    There is no bincount / segment sum in the standard (array-api#812, spec PR #960).
    torch has a native differentiable ``index_add``; the generic path is a one-hot matmul
    (stays on device, differentiable, O(N * n_segments) memory).
    """
    device = aac.device(values)
    one_d = values.ndim == 1
    vals = xp.reshape(values, (-1, 1)) if one_d else values
    if is_torch(xp):
        import torch

        out = torch.zeros((n_segments, vals.shape[1]), dtype=vals.dtype, device=vals.device)
        out = out.index_add(0, ids.to(torch.int64), vals)
    else:
        classes = xp.arange(n_segments, dtype=ids.dtype, device=device)
        onehot = xp.astype(ids[:, None] == classes[None, :], vals.dtype)
        out = xp.matmul(xp.matrix_transpose(onehot), vals)
    return xp.reshape(out, (-1,)) if one_d else out


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
        native = mod.argpartition(key, k - 1, axis=1)[:, :k]
    if native is None:
        order = xp.argsort(x, axis=1, descending=largest, stable=True)[:, :k]
        return xp.take_along_axis(x, order, axis=1), xp.astype(order, idt)

    cand = xp.astype(native, idt)
    vals = xp.take_along_axis(x, cand, axis=1)
    kth = xp.max(vals, axis=1) if not largest else xp.min(vals, axis=1)
    # Entries at least as good as the k-th value: more than k means a tie at the boundary.
    better_eq = (x <= kth[:, None]) if not largest else (x >= kth[:, None])
    n_ok = xp.sum(xp.astype(better_eq, idt), axis=1)
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
    D = 128 costs as much as the GEMM itself): NumPy/CuPy and torch without autograd work
    in place on the GEMM output (4 passes); torch with autograd fuses the ``-2 q.r + |r|^2``
    into ``addmm``.
    """
    same = r is q
    device = aac.device(q)
    qq = xp.sum(q * q, axis=1)
    rr = qq if same else xp.sum(r * r, axis=1)
    n = q.shape[0]
    if (aac.is_numpy_namespace(xp) or aac.is_cupy_namespace(xp)) and q.ndim == 2:
        mod = np if aac.is_numpy_namespace(xp) else __import__("cupy")
        g = mod.matmul(q, r.T)
        g *= -2
        g += qq[:, None]
        g += rr[None, :]
        mod.maximum(g, 0, out=g)
        mod.sqrt(g, out=g)
        if same:
            mod.fill_diagonal(g, 0)
        return g
    if is_torch(xp):
        import torch

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
