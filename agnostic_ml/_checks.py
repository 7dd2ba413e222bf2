"""Input validation shared by every public entry point.

Each check raises ``ValueError`` or ``TypeError`` whose message names the argument, what
was given and what was expected. Checks that would force a device sync (NaN/inf scans)
are done only where a non-finite value would silently poison a result.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from ._array_api import follow, index_dtype, namespace_and_device, same_device, to_numpy
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


def check_finite(x: Array, name: str, xp: Any) -> None:
    """Raise if ``x`` holds NaN or inf (one reduction and one host sync)."""
    if x.shape[0] == 0:
        return
    if not bool(to_numpy(xp.all(xp.isfinite(x)))):
        raise ValueError(f"{name} contains NaN or inf values; embeddings must be finite")


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
    return lab


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


def prepare_batch(
    embeddings: Any,
    labels: Any,
    ref_emb: Any = None,
    ref_labels: Any = None,
    *,
    labels_required: bool = True,
    distance: Any = None,
) -> Batch:
    """Validate a (embeddings, labels, ref_emb, ref_labels) call.

    Returns a :class:`Batch` ``(xp, device, embeddings, labels, ref_emb, ref_labels,
    has_ref)`` where ``ref_emb``/``ref_labels`` default to the batch and ``has_ref`` tells
    whether a separate reference set was given (PML's self-pair rule: only without one is
    the diagonal excluded). With ``distance``, its ``check_shapes(embeddings, ref_emb)``
    decides which embedding shapes are acceptable (PML's hook: a custom distance may take,
    say, 3-D embeddings); otherwise they must be 2-D floating arrays of equal width.
    """
    check_ref_pair(ref_emb, ref_labels)
    xp, device = namespace_and_device(embeddings)
    has_ref = ref_emb is not None
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
