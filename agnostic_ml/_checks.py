"""Input validation shared by every public entry point.

Each check raises ``ValueError`` or ``TypeError`` whose message names the argument, what
was given and what was expected.

The non-finite policy (CONTRIBUTING.md, "The contracts"; ``docs/reliability.md``): every
consumer of embeddings (miners, losses, regularizers, kNN, k-means, the accuracy
calculator) calls :func:`check_all_finite` on entry and raises ``ValueError`` naming the
array and its first bad row; distances do not check (they propagate NaN/inf). The check is
one reduction per array and one host sync per call, and every caller offers
``check_finite=False``. NaN labels are refused in :func:`prepare_labels`.
"""

from __future__ import annotations

from typing import Any, Mapping, NamedTuple

import numpy as np

from ._array_api import (
    floating_work_dtype,
    follow,
    index_dtype,
    namespace_and_device,
    no_grad,
    same_device,
    to_numpy,
)
from ._typing import Array, Namespace


def check_embeddings(x: Any, name: str = "embeddings", *, xp: Any = None) -> None:
    """2-D floating array, else a clear error."""
    if x is None:
        raise TypeError(f"{name} is required, got None")
    if not hasattr(x, "shape") or not hasattr(x, "dtype"):
        raise TypeError(f"{name} must be a 2-D floating array, got {type(x).__name__}")
    if len(x.shape) != 2:
        raise ValueError(f"{name} must be 2-D (batch, features), got shape {tuple(x.shape)}")
    if xp is None:
        xp, _ = namespace_and_device(x)
    if not xp.isdtype(x.dtype, "real floating"):
        raise TypeError(f"{name} must have a real floating dtype, got {x.dtype}")


def check_finite(x: Array, name: str, xp: Any = None, *, where: str | None = None, row_offset: int = 0) -> None:
    """Raise ``ValueError`` if ``x`` holds NaN or inf (the library's non-finite policy).

    One fused reduction and one host sync (see :func:`check_all_finite`); the message names
    ``where`` (the caller), ``name`` and the first bad row (plus ``row_offset``, for a
    block of a larger array).

    >>> import numpy as np
    >>> check_finite(np.array([[0.0, 1.0], [np.nan, 2.0]]), "embeddings", where="BatchHardMiner")
    Traceback (most recent call last):
    ...
    ValueError: BatchHardMiner: embeddings row 1 contains NaN; embeddings must be finite (NaN or inf values would silently poison the result). Pass check_finite=False to skip this check.
    """
    check_all_finite({name: x}, xp=xp, where=where, row_offset=row_offset)


def check_all_finite(
    arrays: Mapping[str, Array | None], *, xp: Any = None, where: str | None = None, row_offset: int = 0
) -> None:
    """Raise ``ValueError`` naming the first array (and row) of ``arrays`` that holds NaN or inf.

    The library's policy for non-finite embeddings (CONTRIBUTING.md, "The contracts"): every
    miner, loss, regularizer, kNN, k-means and accuracy call checks its embeddings on entry
    and raises, because a NaN or inf row would otherwise silently win as "hardest" negative,
    vanish from a selection or poison a mean. ``None`` entries and empty arrays are skipped.

    Cost: the test is ``isfinite(sum(x_1) + sum(x_2) + ...)``: one reduction pass per array
    without any temporary, and one host sync for all of them (a sum is finite only if every
    element is). A finite sum proves every element finite; a non-finite one (a NaN, an inf,
    or an overflow of large finite values) falls back to the exact elementwise test, which
    locates the bad row. Half-precision inputs are summed in float32, so that ordinary
    values do not overflow the sum.
    """
    names = [k for k, v in arrays.items() if v is not None and _size(v) > 0]
    if not names:
        return
    if xp is None:
        xp, _ = namespace_and_device(*(arrays[k] for k in names))
    with no_grad(xp):
        total = None
        for k in names:
            v = arrays[k]
            work = floating_work_dtype(v.dtype, xp=xp) if xp.isdtype(v.dtype, "real floating") else None
            s = xp.sum(v, dtype=work) if work is not None and work != v.dtype else xp.sum(v)
            if total is None:
                total = s
            else:
                total = total + (s if s.dtype == total.dtype else xp.astype(s, total.dtype))
        if bool(to_numpy(xp.isfinite(total))):
            return
        for k in names:
            _raise_if_not_finite(arrays[k], k, xp, where, row_offset)


def _size(x: Array) -> int:
    n = 1
    for s in x.shape:
        n *= int(s)
    return n


def _raise_if_not_finite(x: Array, name: str, xp: Any, where: str | None, row_offset: int = 0) -> None:
    """The exact (error-path) test of one array: raise naming its first non-finite row."""
    finite = xp.isfinite(x)
    if bool(to_numpy(xp.all(finite))):
        return
    bad = np.logical_not(np.asarray(to_numpy(finite)))
    flat = bad.reshape(bad.shape[0], -1) if bad.ndim > 1 else bad.reshape(-1, 1)
    row = int(np.flatnonzero(flat.any(axis=1))[0])
    values = np.asarray(to_numpy(x[row, ...] if x.ndim > 1 else x[row : row + 1]), dtype=np.float64)
    kind = "NaN" if np.isnan(values).any() else ("inf" if np.isposinf(values).any() else "-inf")
    what = f"row {row + row_offset}" if x.ndim > 1 else f"element {row + row_offset}"
    prefix = f"{where}: " if where else ""
    raise ValueError(
        f"{prefix}{name} {what} contains {kind}; {name} must be finite (NaN or inf values would "
        "silently poison the result). Pass check_finite=False to skip this check."
    )


def prepare_labels(labels: Any, n: int | None = None, *, xp: Namespace, device: Any, name: str = "labels") -> Array:
    """Convert labels (list / NumPy / array of ``xp``) once to ``xp`` on ``device``; check 1-D, length ``n`` (when given)."""
    if labels is None:
        raise TypeError(f"{name} is required, got None")
    lab = follow(labels, xp=xp, device=device, name=name)
    if lab.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {tuple(lab.shape)}")
    if n is not None and lab.shape[0] != n:
        raise ValueError(f"{name} has length {lab.shape[0]} but there are {n} embeddings")
    if xp.isdtype(lab.dtype, "bool") or not (xp.isdtype(lab.dtype, "integral") or xp.isdtype(lab.dtype, "real floating")):
        raise TypeError(f"{name} must be integer (or integer-valued float) class ids, got dtype {lab.dtype}")
    if xp.isdtype(lab.dtype, "real floating") and lab.shape[0] > 0:
        check_no_nan_labels(lab, name, xp=xp)
    return lab


def check_no_nan_labels(lab: Array, name: str, *, xp: Namespace) -> None:
    """``ValueError`` if floating labels hold NaN (``NaN != NaN``: two NaN labels would form a negative pair).

    One reduction and one host sync, for floating labels only (integer labels cost nothing).
    """
    if bool(to_numpy(xp.all(lab == lab))):
        return
    first = int(np.flatnonzero(np.isnan(np.asarray(to_numpy(lab), dtype=np.float64)))[0])
    raise ValueError(
        f"{name}[{first}] is NaN; labels must be class ids (NaN != NaN, so two NaN labels "
        "would silently count as different classes)"
    )


def check_ref_pair(ref_emb: Any, ref_labels: Any) -> None:
    """``ref_emb`` and ``ref_labels`` come together or not at all."""
    if ref_emb is not None and ref_labels is None:
        raise ValueError("ref_emb was given without ref_labels; pass both or neither")
    if ref_labels is not None and ref_emb is None:
        raise ValueError("ref_labels was given without ref_emb; pass both or neither")


class Batch(NamedTuple):
    """A validated ``(embeddings, labels, ref_emb, ref_labels)`` call (see :func:`prepare_batch`)."""

    xp: Namespace
    device: Any
    embeddings: Array
    labels: Array | None  # None only when labels were optional and not given
    ref_emb: Array  # the batch itself when no reference set was given
    ref_labels: Array | None  # ``labels`` itself (the same object) when no reference set was given
    has_ref: bool  # whether a separate reference set was given (PML's self-pair rule)


def _overrides_check_shapes(distance: Any) -> bool:
    """Whether ``distance`` has its own ``check_shapes`` (PML's hook), not BaseDistance's."""
    from .distances.base import BaseDistance

    own = getattr(type(distance), "check_shapes", None)
    return own is not None and own is not BaseDistance.check_shapes


def prepare_batch(
    embeddings: Any,
    labels: Any,
    ref_emb: Any = None,
    ref_labels: Any = None,
    *,
    labels_required: bool = True,
    distance: Any = None,
    check_finite: bool = True,
    where: str | None = None,
) -> Batch:
    """Validate a (embeddings, labels, ref_emb, ref_labels) call.

    Returns a :class:`Batch` ``(xp, device, embeddings, labels, ref_emb, ref_labels,
    has_ref)`` where ``ref_emb``/``ref_labels`` default to the batch and ``has_ref`` tells
    whether a separate reference set was given (PML's self-pair rule: only without one is
    the diagonal excluded). With ``distance``, its ``check_shapes(embeddings, ref_emb)``
    decides which embedding shapes are acceptable (PML's hook: a custom distance may take,
    say, 3-D embeddings); otherwise they must be 2-D floating arrays of equal width.

    ``check_finite`` applies the non-finite policy (:func:`check_all_finite`: one fused
    reduction and one host sync for ``embeddings`` and ``ref_emb`` together); ``where``
    names the caller in the error message.
    """
    check_ref_pair(ref_emb, ref_labels)
    xp, device = namespace_and_device(embeddings)
    has_ref = ref_emb is not None
    if distance is not None and not _overrides_check_shapes(distance):
        distance = None  # the default check below, with this call's argument names
    if distance is not None:
        if not hasattr(embeddings, "shape") or not xp.isdtype(embeddings.dtype, "real floating"):
            raise TypeError(f"embeddings must be a real floating array, got {getattr(embeddings, 'dtype', type(embeddings).__name__)}")
        if has_ref:
            namespace_and_device(embeddings, ref_emb)
        distance.check_shapes(embeddings, ref_emb)
    else:
        check_embeddings(embeddings, "embeddings", xp=xp)
    if has_ref:
        xr, _ = namespace_and_device(embeddings, ref_emb)
        if distance is None:
            check_embeddings(ref_emb, "ref_emb", xp=xr)
            if ref_emb.shape[1] != embeddings.shape[1]:
                raise ValueError(
                    f"ref_emb has {ref_emb.shape[1]} features but embeddings have {embeddings.shape[1]}"
                )
        if not same_device(namespace_and_device(ref_emb)[1], device):
            raise ValueError(f"ref_emb is on device {namespace_and_device(ref_emb)[1]}, embeddings on {device}")
    if labels is None:
        if labels_required:
            raise TypeError("labels is required, got None")
        lab = None
    else:
        lab = prepare_labels(labels, embeddings.shape[0], xp=xp, device=device, name="labels")
    if has_ref:
        rlab = prepare_labels(ref_labels, ref_emb.shape[0], xp=xp, device=device, name="ref_labels")
    else:
        ref_emb, rlab = embeddings, lab
    if check_finite:
        check_all_finite({"embeddings": embeddings, "ref_emb": ref_emb if has_ref else None}, xp=xp, where=where)
    return Batch(xp, device, embeddings, lab, ref_emb, rlab, has_ref)


def prepare_indices(x: Any, *, xp: Namespace, device: Any, name: str) -> Array:
    """Convert an index array (host data or an array of ``xp``) once; check 1-D and integer.

    Returns it with the indexing dtype of ``xp`` on ``device``.
    """
    arr = follow(x, xp=xp, device=device, name=name)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D index array, got shape {tuple(arr.shape)}")
    if not xp.isdtype(arr.dtype, "integral"):
        raise TypeError(f"{name} must have an integer dtype, got {arr.dtype}")
    idt = index_dtype(xp, device)
    return arr if arr.dtype == idt else xp.astype(arr, idt)


def check_index_range(idx: Array, n: int, name: str, *, xp: Namespace, what: str) -> None:
    """``ValueError`` unless every entry of the integer array ``idx`` lies in ``[0, n)`` (one host sync).

    ``what`` says what the indices point at (in the message), e.g. ``"rows of embeddings"``.

    >>> import numpy as np
    >>> check_index_range(np.array([0, 3]), 3, "anchors", xp=np, what="rows of embeddings")
    Traceback (most recent call last):
    ...
    ValueError: anchors holds values in [0, 3] but must be in [0, 3) (rows of embeddings)
    """
    if idx.shape[0] == 0:
        return
    lo, hi = xp.min(idx), xp.max(idx)
    if bool(to_numpy(xp.logical_and(lo >= 0, hi < n))):
        return
    raise ValueError(f"{name} holds values in [{int(to_numpy(lo))}, {int(to_numpy(hi))}] but must be in [0, {n}) ({what})")
