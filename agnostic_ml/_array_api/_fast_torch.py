"""A torch namespace with native fast paths for the hot operations of the core.

array-api-compat's torch namespace wraps many functions in Python to make torch follow
the standard: ``take`` and ``take_along_axis`` add two passes over the indices to map
negative ones (pytorch#146211), ``matmul`` and the logical functions re-run type promotion
(``_fix_promotion``). On the small and medium arrays of a training step this costs
2-7 microseconds per call, against 1.5-4 for torch's own call (torch 2.13, one thread;
``benchmarks/array_api_overhead.py`` measures it). The reductions' wrappers
(``sum``, ``max``, ``min``, ``count_nonzero``) measured under 0.3 us and are kept.

:func:`fast_torch_namespace` returns one module-like object, built once, that holds every
name of ``array_api_compat.torch`` and replaces a few of them with functions that call torch
directly **when the arguments are of the kind where torch already does what the standard
says** (same dtypes, tensors rather than Python scalars), and otherwise call the compat
function. Its ``__name__`` is compat's, so ``array_api_compat.is_torch_namespace`` and
array-api-extra treat it as torch. Algorithms receive it from
:func:`~agnostic_ml._array_api.namespace_and_device` and never know.

One deliberate narrowing: ``take`` and ``take_along_axis`` do not wrap negative indices.
Every index array the core gathers with is made by the core (``arange``, ``nonzero``,
``argsort``, ``topk``) or validated at the API edge (tuple index ranges), so it is never
negative; torch raises ``IndexError`` for a negative index on CPU.
"""

from __future__ import annotations

import types
from typing import Any

_FAST: types.ModuleType | None = None


def fast_torch_namespace() -> types.ModuleType:
    """The (cached) torch namespace with native fast paths; see the module docstring.

    Examples
    --------
    >>> import array_api_compat, torch
    >>> xp = fast_torch_namespace()
    >>> array_api_compat.is_torch_namespace(xp), xp.take(torch.arange(5) * 10, torch.tensor([4, 0]), axis=0).tolist()
    (True, [40, 0])
    """
    global _FAST
    if _FAST is None:
        _FAST = _build()
    return _FAST


def _build() -> types.ModuleType:
    import array_api_compat.torch as _compat  # imports torch: only called once torch arrays were seen
    import torch

    ns = types.ModuleType(_compat.__name__, "array_api_compat.torch with native fast paths (agnostic_ml)")
    module_attrs = {"__name__", "__doc__", "__spec__", "__loader__", "__package__", "__file__", "__path__", "__builtins__", "__cached__"}
    ns.__dict__.update({k: v for k, v in vars(_compat).items() if k not in module_attrs})

    def take(x: Any, indices: Any, /, *, axis: int | None = None) -> Any:
        if axis is None:
            if x.ndim == 1:  # the standard's only case without axis
                return torch.index_select(x, 0, indices)
            return _compat.take(x, indices)
        return torch.index_select(x, axis, indices)

    def take_along_axis(x: Any, indices: Any, /, *, axis: int = -1) -> Any:
        return torch.take_along_dim(x, indices, dim=axis)

    def matmul(x1: Any, x2: Any, /) -> Any:
        if x1.dtype == x2.dtype:
            return torch.matmul(x1, x2)
        return _compat.matmul(x1, x2)

    def _binary(native: Any, generic: Any) -> Any:
        def f(x1: Any, x2: Any, /) -> Any:
            if isinstance(x1, torch.Tensor) and isinstance(x2, torch.Tensor) and x1.dtype == x2.dtype:
                return native(x1, x2)
            return generic(x1, x2)

        f.__name__ = generic.__name__
        return f

    ns.take = take
    ns.take_along_axis = take_along_axis
    ns.matmul = matmul
    for name, native in (("logical_and", torch.logical_and), ("logical_or", torch.logical_or),
                         ("maximum", torch.maximum), ("minimum", torch.minimum)):
        setattr(ns, name, _binary(native, getattr(_compat, name)))
    return ns
