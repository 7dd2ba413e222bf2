"""HardClusterMiner: triplets of class centres (OML 4.0's cluster-based hard miner)."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from .._array_api import (
    empty_indices,
    eye_mask,
    index_dtype,
    namespace_and_device,
    no_grad,
    nonzero,
    take_rows,
    to_numpy,
)
from .._typing import Array
from ..distances import BaseDistance
from ._oml import check_distance, hardness
from .indexed_triplets import IndexedTriplets
from .base import BaseMiner, refuse_ref_args


class ClusterTriplets(NamedTuple):
    """One triplet per anchor class: ``(centres[anchor_class], embeddings[positive], centres[negative_class])``."""

    centres: Array  # (C, D) class means, classes in ascending label order
    centre_labels: Array  # (C,)
    anchor_class: Array  # (T,) index into centres
    positive: Array  # (T,) index into the embeddings
    negative_class: Array  # (T,) index into centres


def class_ids(labels: Array, *, xp: Any) -> tuple[Array, int]:
    """Dense class id per sample (classes in ascending label order) and the number of classes.

    Sort-based, so it also runs where ``unique_inverse`` is unavailable (data-dependent
    shapes, array-api#84); one host sync for the class count.
    """
    _, device = namespace_and_device(labels)
    idt = index_dtype(xp, device)
    n = labels.shape[0]
    order = xp.argsort(labels, stable=True)
    sl = xp.take(labels, order)
    change = xp.astype(sl[1:] != sl[:-1], idt) if n > 1 else xp.zeros((0,), dtype=idt, device=device)
    gid_sorted = xp.cumulative_sum(change, include_initial=True)
    n_classes = int(to_numpy(gid_sorted[-1:])[0]) + 1
    inverse = xp.argsort(order, stable=True)
    return xp.take(gid_sorted, inverse), n_classes


def cluster_triplets(embeddings: Array, labels: Array, distance: BaseDistance) -> ClusterTriplets:
    """The hard-cluster triplets of a batch (differentiable centres on torch).

    For each class ``c`` with at least 2 samples (when there are at least 2 classes):
    anchor = the centre ``mu_c`` (mean of the class's embeddings), positive = the sample of
    ``c`` farthest from ``mu_c``, negative = the closest other centre ``mu_c'``. Ties: the
    lowest index. Distances are those of ``distance`` (OML: squared Euclidean for the
    positive, Euclidean between centres, which gives the same argmax / argmin as the
    Euclidean distance used by default here).
    """
    xp, device = namespace_and_device(embeddings)
    idt = index_dtype(xp, device)
    n, dim = embeddings.shape
    if n == 0:
        return ClusterTriplets(embeddings[:0, ...], labels[:0], *empty_indices(3, xp=xp, device=device))
    ids, n_classes = class_ids(labels, xp=xp)
    member = xp.arange(n_classes, dtype=idt, device=device)[:, None] == ids[None, :]  # (C, N)
    counts = xp.sum(xp.astype(member, idt), axis=1)
    weights = xp.astype(member, embeddings.dtype)
    centres = xp.matmul(weights, embeddings) / xp.astype(counts, embeddings.dtype)[:, None]
    first_member = xp.argmax(xp.astype(member, idt), axis=1)
    centre_labels = xp.take(labels, first_member)
    if n_classes < 2:
        return ClusterTriplets(centres, centre_labels, *empty_indices(3, xp=xp, device=device))
    with no_grad(xp):
        inf = xp.asarray(math.inf, dtype=centres.dtype, device=device)
        h_cx = hardness(distance(centres, embeddings), distance)  # (C, N)
        positive = xp.astype(xp.argmax(xp.where(member, h_cx, -inf), axis=1), idt)
        h_cc = hardness(distance(centres), distance)  # (C, C)
        h_cc = xp.where(eye_mask(n_classes, n_classes, xp=xp, device=device), inf, h_cc)
        negative = xp.astype(xp.argmin(h_cc, axis=1), idt)
        (anchor,) = nonzero(counts >= 2, xp=xp)
    return ClusterTriplets(centres, centre_labels, anchor, xp.take(positive, anchor), xp.take(negative, anchor))


class HardClusterMiner(BaseMiner):
    """Hardest triplets measured against class centres (OML's ``HardClusterMiner()``).

    For each class ``c`` of the batch: anchor = the class centre ``mu_c`` (mean embedding),
    positive = the sample of ``c`` farthest from ``mu_c``, negative = the closest centre of
    another class. One triplet per class, classes in ascending label order.

    **Index contract.** Anchors and negatives are centres, not rows of the batch, so the
    indices refer to the *extended set* ``E = concat([embeddings, centres])`` with labels
    ``concat([labels, centre_labels])``: ``a = N + c``, ``p < N``, ``n = N + c'``. Use

    >>> t = miner.mine_extended(embeddings, labels)            # doctest: +SKIP
    >>> loss(t.embeddings, t.labels, t.indices)                 # doctest: +SKIP

    (``miner(embeddings, labels)`` returns the same ``(a, p, n)``; :meth:`reference_set`
    builds ``E``; on torch the centres in ``E`` are differentiable, as in OML). Passing the
    plain batch with these indices fails loudly (``a >= N``) rather than mining garbage.
    :meth:`sample` returns OML's ``(mean_vectors, positives, negative_mean_vectors)``.

    **Batches.** OML requires a P x K batch (same number of samples per label, >= 2 labels,
    > 1 sample each) and raises ValueError otherwise. We generalise: class sizes may differ;
    classes with a single sample are not anchors (a "farthest positive" would be the sample
    itself) but their centres are candidate negatives; fewer than 2 classes gives no
    triplet (empty arrays). On every batch OML accepts, the result is OML's.

    **Distance.** OML's Euclidean on raw features, ``LpDistance(normalize_embeddings=False)``
    (OML ranks positives by squared Euclidean: same argmax). ``distance=`` accepts others;
    centres are always means of the raw embeddings. ``ref_emb`` is not supported.

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.miners import HardClusterMiner
    >>> x = np.array([[0, 0], [1, 0], [5, 0], [10, 0], [10, 1], [10, 5], [30, 0], [31, 0], [35, 0]], float)
    >>> a, p, n = HardClusterMiner()(x, [0, 0, 0, 1, 1, 1, 2, 2, 2])
    >>> (a - 9).tolist(), p.tolist(), (n - 9).tolist()
    ([0, 1, 2], [2, 5, 8], [1, 0, 1])
    """

    builds_own_reference = True  # the class centres

    def __init__(self, *, distance: BaseDistance | None = None, collect_stats: bool = False) -> None:
        super().__init__(collect_stats=collect_stats, distance=check_distance(distance))

    def mine(self, embeddings: Array, labels: Array, ref_emb: Array, ref_labels: Array) -> tuple[Array, Array, Array]:
        refuse_ref_args(self, ref_emb, ref_labels, labels=labels)
        t = cluster_triplets(embeddings, labels, self.distance)
        n = embeddings.shape[0]
        return t.anchor_class + n, t.positive, t.negative_class + n

    def clusters(self, embeddings: Array, labels: Any) -> ClusterTriplets:
        """The centres and the triplets as (class, sample, class) indices."""
        batch = self.prepare_inputs(embeddings, labels)
        return cluster_triplets(batch.embeddings, batch.labels, self.distance)

    def reference_set(self, embeddings: Array, labels: Any) -> tuple[Array, Array]:
        """``E = concat([embeddings, centres])`` and its labels: the set the indices refer to."""
        t = self.mine_extended(embeddings, labels)
        return t.embeddings, t.labels

    def mine_extended(self, embeddings: Array, labels: Any) -> IndexedTriplets:
        """Indices together with the extended set ``E`` they refer to (one pass)."""
        batch = self.prepare_inputs(embeddings, labels)
        xp, emb, lab = batch.xp, batch.embeddings, batch.labels
        t = cluster_triplets(emb, lab, self.distance)
        n = emb.shape[0]
        e = xp.concat([emb, t.centres], axis=0)
        e_lab = xp.concat([lab, t.centre_labels])
        return IndexedTriplets(e, e_lab, t.anchor_class + n, t.positive, t.negative_class + n)

    def sample(self, features: Array, labels: Any) -> tuple[Array, Array, Array]:
        """OML's call: ``(mean_vectors, positives, negative_mean_vectors)``, one row per anchor class."""
        xp, _ = namespace_and_device(features)
        t = self.clusters(features, labels)
        return (
            take_rows(t.centres, t.anchor_class, xp=xp),
            take_rows(features, t.positive, xp=xp),
            take_rows(t.centres, t.negative_class, xp=xp),
        )

    def __repr__(self) -> str:
        return "HardClusterMiner()"
