"""Gathers, ``nonzero`` and ``repeat``: indexing where backends differ or the standard has gaps.

``nonzero`` and ``repeat`` with an array of repeats have data-dependent output shapes, an
optional capability of the standard (array-api#84); the gathers avoid the extra passes
array-api-compat's torch ``take`` makes over its indices (pytorch#146211).
"""

from __future__ import annotations

import numpy as np
import array_api_compat as aac

from .._typing import Array, Namespace
from ._host import from_host_indices, to_numpy
from ._namespace import has_boolean_indexing, has_data_dependent_shapes, index_dtype, is_torch


def nonzero(mask: Array, *, xp: Namespace) -> tuple[Array, ...]:
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
    return tuple(from_host_indices(h, xp=xp, device=device) for h in host)


def nonzero_2d(mask: Array, *, xp: Namespace) -> tuple[Array, Array]:
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
    return nonzero(mask, xp=xp)  # type: ignore[return-value]


def compress(x: Array, mask: Array, *, xp: Namespace) -> Array:
    """``x[mask]`` for 1-D arrays: boolean indexing where the namespace has it, else ``take`` + ``nonzero``.

    Boolean indexing is an optional capability of the standard (array-api#84;
    array-api-strict's strictest mode lacks it).
    """
    if has_boolean_indexing(xp):
        return x[mask]
    (idx,) = nonzero(mask, xp=xp)
    return xp.take(x, idx, axis=0)


def take_rows(x: Array, idx: Array, *, xp: Namespace) -> Array:
    """Gather rows ``x[idx, ...]``; differentiable on torch (``index_select``)."""
    return xp.take(x, idx, axis=0)


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
