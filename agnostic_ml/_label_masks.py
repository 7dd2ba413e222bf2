"""Positive and negative pair masks from labels, with PML's self-pair rule: one home for every miner and tuple utility."""

from __future__ import annotations

from typing import Any

from ._array_api import eye_mask, namespace_and_device
from ._typing import Array, Namespace


def label_masks(
    labels: Array,
    ref_labels: Array,
    *,
    exclude_self: bool,
    start: int = 0,
    stop: int | None = None,
    xp: Namespace = None,
    device: Any = None,
) -> tuple[Array, Array]:
    """Boolean masks ``(pos, neg)`` of anchor rows ``start:stop`` (all rows by default) against the references.

    ``pos[i, j] = labels[start + i] == ref_labels[j]``, without ``j == start + i`` when
    ``exclude_self`` (PML's self-pair rule: an anchor is not its own positive when there is
    no separate reference set, or when the reference set starts with the batch); ``neg`` is
    ``not (labels[start + i] == ref_labels[j])``. Shape ``(stop - start, len(ref_labels))``.
    ``xp`` and ``device`` are those of ``labels`` when not given.

    >>> import numpy as np
    >>> pos, neg = label_masks(np.array([0, 0, 1]), np.array([0, 0, 1]), exclude_self=True)
    >>> pos.astype(int).tolist(), neg.astype(int).tolist()
    ([[0, 1, 0], [1, 0, 0], [0, 0, 0]], [[0, 0, 1], [0, 0, 1], [1, 1, 0]])
    """
    if xp is None or device is None:
        xp, device = namespace_and_device(labels)
    rows = labels if start == 0 and stop is None else labels[start:stop]
    same = xp.expand_dims(rows, axis=1) == xp.expand_dims(ref_labels, axis=0)
    neg = xp.logical_not(same)
    n = rows.shape[0]
    if exclude_self and n > 0:
        same = xp.logical_and(same, xp.logical_not(eye_mask(n, ref_labels.shape[0], k=start, xp=xp, device=device)))
    return same, neg
