"""TripletMinerWithMemory: in-batch triplets plus random triplets mixing the batch and a memory bank (OML 4.0)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._array_api import from_host_indices, index_dtype, namespace_and_device, to_numpy
from .._random import as_generator
from .._typing import Array
from .._validate import check_int
from ._oml import oml_distance, take_triplets
from ._ring_bank import MemoryMinerBase, RingBank
from .all_triplets import all_triplets_indices
from .base import BaseMiner


def sample_positive_pairs(labels: np.ndarray, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` ordered pairs ``(i, j)``, ``i != j``, ``labels[i] == labels[j]``, uniform with replacement.

    Host-side (NumPy); rank decoding as in :mod:`._oml`, ``O(len(labels) + n)`` memory.
    Returns empty arrays when there is no such pair or ``n == 0``.
    """
    empty = np.zeros((0,), dtype=np.int64)
    if n <= 0 or labels.shape[0] < 2:
        return empty, empty
    order = np.argsort(labels, kind="stable")
    sl = labels[order]
    start = np.searchsorted(sl, labels, side="left")
    size = np.searchsorted(sl, labels, side="right") - start
    inverse = np.empty_like(order)
    inverse[order] = np.arange(order.shape[0])
    self_pos = inverse - start
    count = size - 1
    cum = np.cumsum(count)
    total = int(cum[-1])
    if total == 0:
        return empty, empty
    t = rng.integers(0, total, size=n)
    a = np.searchsorted(cum, t, side="right")
    k = t - (cum[a] - count[a])
    k = k + (k >= self_pos[a])
    return a.astype(np.int64), order[start[a] + k].astype(np.int64)


class TripletMinerWithMemory(MemoryMinerBase, BaseMiner):
    """All in-batch triplets, plus random triplets that mix the batch with a memory bank.

    OML's ``TripletMinerWithMemory(bank_size_in_batches, tri_expand_k)``. The bank keeps the
    last ``bank_size_in_batches`` batches (FIFO, on the embeddings' namespace and device,
    detached). Each call, with ``B`` the (constant) batch size:

    1. all in-batch triplets (``n1`` of them: anchor, positive, negative from the batch);
    2. ``n2 = floor(n1 * (tri_expand_k - 1) / 2)`` triplets whose anchor and positive are a
       random same-label pair of bank rows and whose negative is a random batch row;
    3. ``n2`` triplets whose anchor and positive are a random in-batch positive pair and
       whose negative is a random bank row;

    random draws are uniform with replacement (with ``rng``), and draws whose negative has
    the anchor's label are dropped (so parts 2 and 3 may come out a little smaller, as in
    OML). Then the batch is enqueued. ``tri_expand_k = 1`` gives only part 1.

    **Index contract.** Part 2 has anchors in the bank, so all indices refer to
    ``E = concat([batch, bank rows])`` (bank slot ``j`` is row ``B + j``; only filled slots):
    call ``t = miner.mine_extended(x, y)`` and ``loss(t.embeddings, t.labels, t.indices)``.
    ``miner(x, y)`` returns the same ``(a, p, n)`` (get ``E`` first with
    :meth:`reference_set`). Output order, as OML: part 3, part 2, part 1; ``t.is_original``
    marks part 1. :meth:`sample` returns OML's ``(anchor, positive, negative,
    is_original_tri)`` embeddings. ``ref_emb`` is not accepted.

    **Differences from OML.** OML pre-fills the bank with fake one-hot rows labelled
    ``-1, -2, ...`` so that parts 2 and 3 exist from the first batch; we never mine fake rows:
    parts 2 and 3 draw only from filled slots (empty before the first enqueue). OML draws the
    bank positive pairs by repeatedly picking a label and taking its pairs in random order
    (which loops forever when the bank has no pair); we draw uniformly over all bank positive
    pairs, and part 2 is empty when there is none. Part 1 is in lexicographic order.
    Randomness comes only from ``rng``.

    Parameters
    ----------
    bank_size_in_batches : int >= 1
    tri_expand_k : int >= 1
        About ``tri_expand_k * n1`` triplets are returned.
    rng : numpy.random.Generator | int | None

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.miners import TripletMinerWithMemory
    >>> miner = TripletMinerWithMemory(bank_size_in_batches=2, tri_expand_k=3, rng=0)
    >>> x, y = np.eye(4), [0, 0, 1, 1]
    >>> len(miner.mine_extended(x, y).anchors)   # empty bank: the 8 in-batch triplets
    8
    >>> t = miner.mine_extended(x, y)            # 8 + 8 + 8 minus same-label draws
    >>> int(t.is_original.sum()), t.embeddings.shape
    (8, (8, 4))
    """

    def __init__(
        self, bank_size_in_batches: int, tri_expand_k: int, rng: Any = None, *, collect_stats: bool = False
    ) -> None:
        super().__init__(collect_stats=collect_stats, distance=oml_distance())
        self.bank_size_in_batches = check_int(bank_size_in_batches, "bank_size_in_batches", minimum=1)
        self.tri_expand_k = check_int(tri_expand_k, "tri_expand_k", minimum=1)
        self.rng = as_generator(rng)
        self._bank = RingBank(self.bank_size_in_batches, keep_host_labels=True)

    def _bank_in_reference(self) -> bool:
        return self._bank.filled > 0

    def _mine_batch(self, emb: Array, lab: Array, ref: Array, ref_lab: Array) -> tuple[Any, ...]:
        xp, device = namespace_and_device(emb)
        idt = index_dtype(xp, device)
        b = emb.shape[0]
        a1, p1, n1 = all_triplets_indices(lab, lab, exclude_self=True)
        n_orig = int(a1.shape[0])
        n_extra = n_orig * (self.tri_expand_k - 1) // 2
        filled = self._bank.filled
        parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        if n_extra > 0 and filled > 0:
            lab_h = to_numpy(lab)
            bank_h = self._bank.labels_host[:filled]
            # part 2: anchor + positive from the bank, negative from the batch
            pa, pp = sample_positive_pairs(bank_h, n_extra, self.rng)
            nb = self.rng.integers(0, b, size=pa.shape[0])
            keep2 = bank_h[pa] != lab_h[nb]
            part2 = (pa[keep2] + b, pp[keep2] + b, nb[keep2])
            # part 3: anchor + positive from the batch, negative from the bank
            qa, qp = sample_positive_pairs(lab_h, n_extra, self.rng)
            nk = self.rng.integers(0, filled, size=qa.shape[0])
            keep3 = lab_h[qa] != bank_h[nk]
            part3 = (qa[keep3], qp[keep3], nk[keep3] + b)
            parts = [part3, part2]
        n_mixed = sum(int(p[0].shape[0]) for p in parts)
        if n_mixed:
            host = [np.concatenate([p[i] for p in parts]) for i in range(3)]
            mixed = [from_host_indices(h, xp=xp, device=device) for h in host]
            a = xp.concat([mixed[0], a1])
            p = xp.concat([mixed[1], p1])
            n = xp.concat([mixed[2], n1])
        else:
            a, p, n = a1, p1, n1
        original = xp.arange(n_mixed + n_orig, dtype=idt, device=device) >= n_mixed
        self.record(num_original=n_orig, num_with_bank=n_mixed)
        return a, p, n, original

    def sample(self, features: Array, labels: Any) -> tuple[Array, Array, Array, Array]:
        """OML's call: ``(anchor, positive, negative, is_original_tri)``; enqueues the batch."""
        xp, _ = namespace_and_device(features)
        t = self.mine_extended(features, labels)
        a, p, n = take_triplets(t.embeddings, t.embeddings, t.anchors, t.positives, t.negatives, xp=xp)
        return a, p, n, t.is_original

    def __repr__(self) -> str:
        return (
            f"TripletMinerWithMemory(bank_size_in_batches={self.bank_size_in_batches}, "
            f"tri_expand_k={self.tri_expand_k})"
        )
