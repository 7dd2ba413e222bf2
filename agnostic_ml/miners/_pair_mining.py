"""Shared pieces of the pair-type and batch-hard miners.

Every miner here works the same way: one distance matrix, fixed-shape boolean masks over
it (:func:`agnostic_ml._label_masks.label_masks`: same-label / different-label, the self
diagonal removed only when there is no separate reference set), and one conversion of a
final mask to index arrays with :func:`agnostic_ml._array_api.nonzero_2d` (``nonzero``,
with NumPy / torch-CPU fast paths). Nothing here materialises index arrays of all N^2 pairs.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .._array_api import index_dtype, namespace_and_device
from .._label_masks import label_masks
from .._typing import Array


def distance_matrix(distance: Any, embeddings: Array, ref_emb: Array) -> Array:
    """``distance(embeddings, ref_emb)``, computed as a self matrix when ``ref_emb is embeddings``.

    The self form normalises once and has an exactly zero Euclidean diagonal.
    """
    if ref_emb is embeddings:
        return distance(embeddings)
    return distance(embeddings, ref_emb)


def matrix_and_masks(
    distance: Any, embeddings: Array, labels: Array, ref_emb: Array, ref_labels: Array, *, xp: Any, device: Any
) -> tuple[Array, Array, Array]:
    """A pair miner's inputs: ``(mat, pos, neg)``, the distance matrix and the label masks.

    PML's self-pair rule: ``ref_labels is labels`` means there is no separate reference set,
    so the diagonal is no positive pair (see :class:`agnostic_ml.miners.BaseMiner`).
    """
    mat = distance_matrix(distance, embeddings, ref_emb)
    pos, neg = label_masks(labels, ref_labels, exclude_self=ref_labels is labels, xp=xp, device=device)
    return mat, pos, neg


def extreme(like: Array, *, largest: bool, xp: Any) -> Array:
    """0-D ``finfo(dtype).max`` (or ``.min``) on ``like``'s device: PML's finite "infinity"."""
    fi = xp.finfo(like.dtype)
    _, device = namespace_and_device(like)
    return xp.asarray(float(fi.max if largest else fi.min), dtype=like.dtype, device=device)


class RowBest(NamedTuple):
    """Per row of a matrix, the chosen entry (see :func:`masked_row_best`)."""

    values: Array  # (N,) the entry, or the sentinel where the row has none
    cols: Array  # (N,) its column (indexing dtype)
    has_any: Array  # (N,) bool: whether the row had a valid entry


def masked_row_best(mat: Array, valid: Array, *, largest: bool, xp: Any) -> RowBest:
    """Per row, the largest (or smallest) entry of ``mat`` among ``valid`` ones.

    Returns a :class:`RowBest` ``(values, cols, has_any)``. Among equal values the lowest column wins
    (``argmax``/``argmin`` return the first occurrence). Rows without a valid entry get
    the sentinel ``finfo.min`` (``finfo.max``) as value, as in PML, and ``has_any`` False.
    ``has_any`` is read at the chosen column (O(N), no second pass over the matrix): a row
    whose valid entries are all no better than the sentinel (infinite distances) counts as
    having none, where PML would return one of its invalid entries.
    """
    fill = extreme(mat, xp=xp, largest=not largest)
    work = xp.where(valid, mat, fill)
    cols = xp.argmax(work, axis=1) if largest else xp.argmin(work, axis=1)
    cols = xp.astype(cols, index_dtype(xp, namespace_and_device(mat)[1]))
    vals = xp.take_along_axis(work, cols[:, None], axis=1)[:, 0]
    has_any = xp.take_along_axis(valid, cols[:, None], axis=1)[:, 0]
    return RowBest(vals, cols, has_any)


def masked_mean(mat: Array, mask: Array, *, xp: Any) -> Array:
    """0-D mean of ``mat`` over ``mask`` (0 when the mask is empty); no host sync."""
    zero = xp.zeros((), dtype=mat.dtype, device=namespace_and_device(mat)[1])
    total = xp.sum(xp.where(mask, mat, zero))
    count = xp.astype(xp.count_nonzero(mask), mat.dtype)
    one = xp.ones((), dtype=mat.dtype, device=namespace_and_device(mat)[1])
    return xp.where(count > zero, total / xp.maximum(count, one), zero)


def flat_gather(mat: Array, rows: Array, cols: Array, *, xp: Any) -> Array:
    """``mat[rows, cols]`` for 1-D index arrays, via ``take`` on the flattened matrix."""
    m = mat.shape[1]
    return xp.take(xp.reshape(mat, (-1,)), rows * m + cols, axis=0)
