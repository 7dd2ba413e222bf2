"""Namespace, device, dtype and capability queries of the arrays a call receives.

Every public function of the core starts with :func:`namespace_and_device` of its
embeddings; everything else here answers a question about that namespace (is it torch?
which integer dtype indexes it? does it have data-dependent shapes?) so that algorithms
never test the backend themselves.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

import numpy as np
import array_api_compat as aac
import array_api_extra as xpx

from .._typing import Array, Namespace


def namespace_and_device(*arrays: Any) -> tuple[Namespace, Any]:
    """Return the compat-wrapped namespace and the device of the first array.

    ``None`` and host data are skipped. Arrays of two different libraries raise
    ``TypeError`` (array_api_compat.array_namespace does that check).
    """
    arrs = [a for a in arrays if a is not None and not isinstance(a, (list, tuple, int, float, bool))]
    if not arrs:
        raise TypeError("expected at least one array argument, got none")
    first = type(arrs[0])
    known = _BY_TYPE.get(first)
    if known is not None and all(type(a) is first for a in arrs):
        # Hot path (every formula calls this): arrays of one exact type whose namespace was
        # resolved before. array_namespace's checks cost ~5 us a call, tens of calls a loss.
        return known, aac.device(arrs[0])
    try:
        xp = aac.array_namespace(*arrs)
    except TypeError as exc:
        kinds = sorted({type(a).__module__ + "." + type(a).__name__ for a in arrs})
        raise TypeError(
            f"arrays from different libraries were mixed ({', '.join(kinds)}); "
            "pass all arrays from the embeddings' library (labels may be host lists/NumPy)"
        ) from exc
    if xp is _COMPAT_TORCH[0] or (_COMPAT_TORCH[0] is None and aac.is_torch_namespace(xp)):
        # The compat torch namespace with native fast paths for hot operations (``_fast_torch``).
        from ._fast_torch import fast_torch_namespace

        _COMPAT_TORCH[0] = xp
        xp = fast_torch_namespace()
        _CACHEABLE.add(first)  # torch.Tensor, nn.Parameter, ...: always the torch namespace
    if len({type(a) for a in arrs}) == 1 and first in _CACHEABLE:
        _BY_TYPE[first] = xp
    return xp, aac.device(arrs[0])


#: Exact array types whose namespace never depends on the instance (resolved once, then cached
#: in ``_BY_TYPE``): NumPy arrays, torch tensors and parameters. Other libraries (CuPy,
#: array-api-strict, Dask) always go through ``array_namespace``.
_CACHEABLE: set[type] = {np.ndarray}
_BY_TYPE: dict[type, Namespace] = {}
_COMPAT_TORCH: list[Any] = [None]  # array_api_compat.torch, once torch arrays were seen (no torch import here)


def infer_namespace(*candidates: Any, like: Any = None) -> tuple[Namespace, Any]:
    """Namespace and device that a call's outputs follow, when no argument is required to be an array.

    Those of ``like`` when it is given; otherwise of the first candidate that is an array
    of a device library (``None``, Python numbers and sequences, NumPy arrays and objects
    that are not arrays are skipped); otherwise NumPy on ``"cpu"``. Used by the tuple
    utilities, whose label and index arguments may all be host data.
    """
    if like is not None:
        return namespace_and_device(like)
    for c in candidates:
        if c is None or isinstance(c, (list, tuple, int, float, bool, np.generic)):
            continue
        if isinstance(c, np.ndarray) or not aac.is_array_api_obj(c):
            continue  # host data, or not an array (reported by the argument's own check)
        return namespace_and_device(c)
    return aac.array_namespace(np.empty(0)), "cpu"


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


def numpy_like(xp: Namespace) -> Any | None:
    """The array module behind a NumPy or CuPy namespace (``numpy`` or ``cupy``), else None.

    NumPy and CuPy share an API beyond the standard (``argpartition``, ``partition``,
    ``bincount``, ``fill_diagonal``, in-place ufuncs with ``out=``) that the fast paths
    here use; the compat-wrapped namespace does not expose all of it, the module does.
    ``cupy`` is imported only when the namespace is CuPy's.
    """
    if aac.is_numpy_namespace(xp):
        return np
    if aac.is_cupy_namespace(xp):
        import cupy

        return cupy
    return None


def has_data_dependent_shapes(xp: Namespace) -> bool:
    """Whether ``xp.nonzero`` and other functions with data-dependent output shapes are available (array-api#84)."""
    return _capability(xp, "data-dependent shapes")


def has_boolean_indexing(xp: Namespace) -> bool:
    """Whether ``x[mask]`` with a boolean array mask is available (array-api#84).

    An optional capability of the standard; array-api-strict's strictest mode lacks it.
    """
    return _capability(xp, "boolean indexing")


def _capability(xp: Namespace, name: str) -> bool:
    """``xp.__array_namespace_info__().capabilities()[name]``; True where a namespace does not say."""
    info = getattr(xp, "__array_namespace_info__", None)
    if info is None:
        return True
    try:
        return bool(info().capabilities().get(name, True))
    except Exception:  # pragma: no cover - defensive for exotic namespaces
        return True


def index_dtype(xp: Namespace, device: Any = None) -> Any:
    """The namespace's default indexing dtype (int64 on torch/NumPy/strict)."""
    return xpx.default_dtype(xp, "indexing", device=device)


def default_floating_dtype(xp: Namespace, device: Any = None) -> Any:
    """The namespace's default real floating dtype on ``device`` (float32 on torch, float64 on NumPy)."""
    return xpx.default_dtype(xp, "real floating", device=device)


# TODO(issue 7): keyword-only (``*, xp, device``) once accuracy/, restructured in parallel, passes them by keyword.
def floating_work_dtype(dtype: Any, xp: Namespace) -> Any:
    """dtype to *compute* in: float16/bfloat16 are upcast to float32, else unchanged.

    Half precision distances lose too much precision in the Gram trick (and torch.cdist
    has no half kernel), so we compute in float32 and cast results back.
    """
    if dtype in (xp.float32, xp.float64):
        return dtype
    return xp.float32


def requires_grad(*arrays: Array) -> bool:
    """True when any array is a torch tensor that autograd is tracking."""
    for a in arrays:
        if a is not None and aac.is_torch_array(a) and a.requires_grad:
            import torch

            return torch.is_grad_enabled()
    return False


@contextlib.contextmanager
def no_grad(xp: Namespace) -> Iterator[None]:
    """Disable autograd on torch (miners run without a graph, as in PML); no-op elsewhere."""
    if is_torch(xp):
        import torch

        with torch.no_grad():
            yield
    else:
        yield
