"""Shared pieces of the classification losses (class weights or proxies, softmax over classes).

The losses of this family (LargeMarginSoftmax, SphereFace, ArcFace, CosFace, SubCenterArcFace,
NormalizedSoftmax, ProxyNCA, ProxyAnchor, SoftTriple, P2SGrad) hold a learnable
``(embedding_size, num_classes)`` weight (or ``(num_classes, embedding_size)`` proxies) and
score every embedding against every class. The helpers here validate a call against the
configuration, turn a miner's tuple into PML's per-sample weights, and compute the
cross-entropy in float32 or wider (half-precision logits scaled by 64 would lose the
softmax, and float16 overflows in ``exp``).
"""

from __future__ import annotations

import operator
from typing import Any

from .._array_api import (
    floating_work_dtype,
    index_dtype,
    namespace_and_device,
    to_numpy,
)
from ..tuples import convert_to_weights

Array = Any

__all__ = [
    "check_class_labels",
    "check_feature_size",
    "check_positive_int",
    "class_labels",
    "cross_entropy",
    "indices_tuple_not_supported",
    "miner_weights",
    "one_hot",
    "ref_not_supported",
    "take_target",
    "to_work_dtype",
    "weight_and_embeddings",
]


def check_positive_int(value: Any, name: str, owner: str) -> int:
    """``value`` as an int, or ``ValueError`` naming ``name`` unless it is a positive integer."""
    try:
        ok = not isinstance(value, bool) and operator.index(value) >= 1
    except TypeError:
        ok = False
    if not ok:
        raise ValueError(f"{owner}: {name} must be a positive int, got {value!r}")
    return operator.index(value)


def ref_not_supported(loss: Any, embeddings: Array, labels: Array, ref_emb: Array, ref_labels: Array) -> None:
    """``ValueError`` when a separate reference set was passed to a loss that has none."""
    if ref_emb is not embeddings or ref_labels is not labels:
        raise ValueError(f"ref_emb is not supported by {type(loss).__name__} (it compares embeddings with its own weights)")


def indices_tuple_not_supported(loss: Any, indices_tuple: Any) -> None:
    if indices_tuple is not None:
        raise ValueError(f"indices_tuple is not supported by {type(loss).__name__}; call it without a miner's output")


def check_feature_size(loss: Any, embeddings: Array, size: int, name: str = "embedding_size") -> None:
    """``ValueError`` naming ``name`` unless the embeddings have ``size`` features."""
    if embeddings.ndim != 2 or embeddings.shape[1] != size:
        raise ValueError(
            f"{type(loss).__name__} was built with {name}={size} but the embeddings have shape "
            f"{tuple(embeddings.shape)}; pass embeddings of shape (batch, {size}) or rebuild the loss"
        )


def class_labels(loss: Any, labels: Array | None, num_classes: int, like: Array) -> Array:
    """Labels as indexing-dtype class ids in ``[0, num_classes)``, else a clear error.

    One fused min/max check and one host sync: a label outside the range would otherwise be
    an IndexError deep in a gather (or a CUDA device-side assert), as in PML.
    """
    owner = type(loss).__name__
    if labels is None:
        raise ValueError(f"labels are required by {owner}")
    xp, device = namespace_and_device(like)
    idt = index_dtype(xp, device)
    lab = labels if labels.dtype == idt else xp.astype(labels, idt)
    check_class_labels(lab, num_classes, owner)
    return lab


def check_class_labels(labels: Array, num_classes: int, owner: str) -> None:
    if labels.shape[0] == 0:
        return
    xp, _ = namespace_and_device(labels)
    lo_hi = xp.stack([xp.min(labels), xp.max(labels)])
    lo, hi = (int(v) for v in to_numpy(lo_hi))
    if lo < 0 or hi >= num_classes:
        raise ValueError(
            f"{owner} was built with num_classes={num_classes} but labels hold values in [{lo}, {hi}]; "
            f"labels must be class ids in [0, {num_classes})"
        )


def miner_weights(indices_tuple: Any, labels: Array, like: Array, *, using_ref: bool = False) -> Array:
    """PML's ``convert_to_weights``: ``count(i) / max count`` over the tuple's indices (1 without one).

    Pairs ``(a1, p, a2, n)`` and triplets ``(a, p, n)`` are counted over all their arrays
    (over the anchors only with ``using_ref``), exactly as PML does.
    """
    return convert_to_weights(indices_tuple, labels, dtype=like.dtype, using_ref=using_ref, like=like)


def one_hot(labels: Array, num_classes: int, like: Array) -> Array:
    """``(N, num_classes)`` boolean matrix ``labels[i] == c``."""
    xp, device = namespace_and_device(like)
    classes = xp.arange(num_classes, dtype=labels.dtype, device=device)
    return xp.expand_dims(labels, axis=1) == xp.expand_dims(classes, axis=0)


def take_target(mat: Array, labels: Array) -> Array:
    """``mat[i, labels[i]]`` for each row (a differentiable gather)."""
    xp, _ = namespace_and_device(mat)
    return xp.squeeze(xp.take_along_axis(mat, xp.expand_dims(labels, axis=1), axis=1), axis=1)


def to_work_dtype(x: Array) -> Array:
    """``x`` in float32 if it is half precision (float16/bfloat16), else unchanged."""
    xp, _ = namespace_and_device(x)
    work = floating_work_dtype(x.dtype, xp)
    return x if x.dtype == work else xp.astype(x, work)


def cross_entropy(logits: Array, labels: Array) -> Array:
    """Per-row softmax cross-entropy ``logsumexp(logits[i]) - logits[i, labels[i]]``.

    As ``torch.nn.functional.cross_entropy(logits, labels, reduction="none")`` (same value
    and gradient ``softmax - onehot``), computed in float32 for half-precision logits and
    with the row maximum subtracted, so large scales (ArcFace's 64) never overflow.

    >>> import numpy as np
    >>> cross_entropy(np.array([[0.0, 0.0], [2.0, 0.0]]), np.array([0, 0])).round(4).tolist()
    [0.6931, 0.1269]
    """
    xp, _ = namespace_and_device(logits)
    z = to_work_dtype(logits)
    m = xp.max(z, axis=1, keepdims=True)
    # The maximum is a constant shift: its gradient cancels exactly, so it carries none.
    lse = xp.squeeze(m, axis=1) + xp.log(xp.sum(xp.exp(z - m), axis=1))
    return lse - take_target(z, labels)


def weight_and_embeddings(loss: Any, param: Array, embeddings: Array) -> tuple[Array, Array]:
    """``(param, embeddings)`` in one working dtype, without touching the stored parameter.

    The working dtype is ``result_type(embeddings, param)`` with half precision raised to
    float32: float64 embeddings meet float32 weights upcast out of place (PML casts ``W``
    in place, PML#309), float16/bfloat16 embeddings are raised to the weights' float32.
    """
    p = loss.param_like(param, embeddings)
    if embeddings.dtype == p.dtype:
        return p, embeddings
    xp, _ = namespace_and_device(embeddings)
    return p, xp.astype(embeddings, p.dtype)


def per_sample_loss_dict(losses: Array, labels: Array) -> dict:
    """``{"loss": {"losses": losses, "indices": arange(batch), "reduction_type": "element"}}``.

    The loss dictionary of a classification loss: one element loss per embedding, indexed by
    its position (``labels`` gives the index dtype and device).
    """
    xp, device = namespace_and_device(labels)
    rows = xp.arange(losses.shape[0], dtype=labels.dtype, device=device)
    return {"loss": {"losses": losses, "indices": rows, "reduction_type": "element"}}


def regularize_class_weights(loss: Any, loss_dict: dict, param: Array, embeddings: Array, *, classes_on_rows: bool) -> None:
    """Add ``loss.weight_regularizer`` of the class weights/proxies to ``loss_dict`` (if it has one).

    The regularizer sees one row per class (PML's convention): ``param`` is cast like the
    embeddings (:func:`weight_and_embeddings`) and transposed when its classes are columns
    (``classes_on_rows=False``, the ``(embedding_size, num_classes)`` weights).
    """
    if loss.weight_regularizer is None:
        return
    w, _ = weight_and_embeddings(loss, param, embeddings)
    if not classes_on_rows:
        xp, _ = namespace_and_device(w)
        w = xp.matrix_transpose(w)
    loss.add_weight_regularization_to_loss_dict(loss_dict, w)
