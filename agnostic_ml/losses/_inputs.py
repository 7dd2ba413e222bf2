"""Input checks of a loss call: embeddings, labels, the reference set and the indices tuple."""

from __future__ import annotations

from typing import Any

from .._array_api import index_dtype, namespace_and_device, same_device, to_numpy
from .._checks import _overrides_check_shapes, check_all_finite, check_embeddings, prepare_indices, prepare_labels

Array = Any


def check_loss_inputs(
    embeddings: Any,
    labels: Any,
    ref_emb: Any,
    ref_labels: Any,
    *,
    distance: Any,
    check_finite: bool = True,
    where: str | None = None,
) -> tuple[Array, Array | None, Array, Array | None]:
    """Validate a loss call and default the reference set to the batch.

    Returns ``(embeddings, labels, ref_emb, ref_labels)`` with labels in the embeddings'
    namespace and on their device; without ``ref_emb``, ``ref_emb is embeddings`` and
    ``ref_labels is labels`` (PML's self-pair rule keys on that identity). Shapes are
    checked by ``distance.check_shapes`` (a custom distance may accept other shapes).
    ``check_finite`` applies the non-finite policy to ``embeddings`` and ``ref_emb`` (one
    fused reduction, one host sync; :func:`agnostic_ml._checks.check_all_finite`), naming
    ``where`` (the loss) in the error.
    """
    if embeddings is None or not hasattr(embeddings, "shape") or not hasattr(embeddings, "dtype"):
        raise TypeError(f"embeddings must be an array of shape (batch, features), got {type(embeddings).__name__}")
    xp, device = namespace_and_device(embeddings)
    if not xp.isdtype(embeddings.dtype, "real floating"):
        raise TypeError(f"embeddings must have a real floating dtype, got {embeddings.dtype}")
    if ref_emb is None and ref_labels is not None:
        raise ValueError("ref_labels was given without ref_emb; pass ref_emb too (or neither)")
    if ref_emb is not None:
        if not hasattr(ref_emb, "shape") or not hasattr(ref_emb, "dtype"):
            raise TypeError(f"ref_emb must be an array, got {type(ref_emb).__name__}")
        namespace_and_device(embeddings, ref_emb)  # raises for two libraries
        ref_device = namespace_and_device(ref_emb)[1]
        if not same_device(ref_device, device):
            raise ValueError(f"ref_emb is on device {ref_device} but embeddings are on {device}")
        if not xp.isdtype(ref_emb.dtype, "real floating"):
            raise TypeError(f"ref_emb must have a real floating dtype, got {ref_emb.dtype}")
    if _overrides_check_shapes(distance):
        distance.check_shapes(embeddings, ref_emb)  # PML's hook: a custom distance decides
    else:
        check_embeddings(embeddings, "embeddings", xp=xp)
        if ref_emb is not None:
            check_embeddings(ref_emb, "ref_emb", xp=xp)
            if ref_emb.shape[1] != embeddings.shape[1]:
                raise ValueError(f"ref_emb has {ref_emb.shape[1]} features but embeddings have {embeddings.shape[1]}")
    n = embeddings.shape[0]
    lab = None if labels is None else prepare_labels(labels, n, xp=xp, device=device, name="labels")
    if check_finite:
        check_all_finite({"embeddings": embeddings, "ref_emb": ref_emb}, xp=xp, where=where)
    if ref_emb is None:
        return embeddings, lab, embeddings, lab
    rlab = None if ref_labels is None else prepare_labels(ref_labels, ref_emb.shape[0], xp=xp, device=device, name="ref_labels")
    return embeddings, lab, ref_emb, rlab


def prepare_indices_tuple(indices_tuple: Any, n: int, m: int, like: Array) -> tuple[Array, ...]:
    """Check a miner's output for a batch of ``n`` anchors and a reference set of ``m`` rows.

    Triplets ``(a, p, n)`` or pairs ``(a1, p, a2, n)`` of 1-D integer arrays (host data is
    converted once); ``len(a) == len(p) == len(n)`` for triplets, ``len(a1) == len(p)`` and
    ``len(a2) == len(n)`` for pairs. Anchors must lie in ``[0, n)``, positives and negatives
    in ``[0, m)``: checked with one fused reduction and one host sync, so a bad index gives a
    clear ``ValueError`` instead of a bare IndexError (or a CUDA device-side assert).
    Miners whose indices refer to an extended set (``HardClusterMiner``, the memory-bank
    miners) must be used through ``mine_extended``.
    """
    if not isinstance(indices_tuple, (tuple, list)) or len(indices_tuple) not in (3, 4):
        got = type(indices_tuple).__name__ + (
            f" of length {len(indices_tuple)}" if isinstance(indices_tuple, (tuple, list)) else ""
        )
        raise ValueError(f"indices_tuple must be triplets (a, p, n) or pairs (a1, p, a2, n), got a {got}")
    xp, device = namespace_and_device(like)
    names = ("a", "p", "n") if len(indices_tuple) == 3 else ("a1", "p", "a2", "n")
    arrs = tuple(prepare_indices(t, xp=xp, device=device, name=f"indices_tuple[{i}] ({names[i]})") for i, t in enumerate(indices_tuple))
    if len(arrs) == 3:
        if not arrs[0].shape[0] == arrs[1].shape[0] == arrs[2].shape[0]:
            raise ValueError(f"triplets (a, p, n) must have equal lengths, got {[t.shape[0] for t in arrs]}")
        limits = (n, m, m)
    else:
        if arrs[0].shape[0] != arrs[1].shape[0] or arrs[2].shape[0] != arrs[3].shape[0]:
            raise ValueError(
                f"pairs need len(a1) == len(p) and len(a2) == len(n), got {[t.shape[0] for t in arrs]}"
            )
        limits = (n, m, n, m)
    bad = None
    for t, lim in zip(arrs, limits):
        if t.shape[0] == 0:
            continue
        b = xp.logical_or(xp.min(t) < 0, xp.max(t) >= lim)
        bad = b if bad is None else xp.logical_or(bad, b)
    if bad is not None and bool(to_numpy(bad)):
        for name, t, lim in zip(names, arrs, limits):
            if t.shape[0] and bool(to_numpy(xp.logical_or(xp.min(t) < 0, xp.max(t) >= lim))):
                lo, hi = int(to_numpy(xp.min(t))), int(to_numpy(xp.max(t)))
                what = "anchors index the embeddings" if name.startswith("a") else "positives/negatives index ref_emb"
                raise ValueError(
                    f"indices_tuple's {name} holds indices in [{lo}, {hi}] but must be in [0, {lim}) ({what}); "
                    "for miners whose indices refer to an extended set, use miner.mine_extended(...)"
                )
    idt = index_dtype(xp, device)
    return tuple(t if t.dtype == idt else xp.astype(t, idt) for t in arrs)
