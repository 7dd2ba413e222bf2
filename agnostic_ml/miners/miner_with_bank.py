"""MinerWithBank: cross-batch memory for a triplet miner (OML 4.0's ``MinerWithBank``)."""

from __future__ import annotations

from typing import Any

from .._array_api import index_dtype, namespace_and_device, nonzero
from .._typing import Array
from .._validate import check_int
from ._oml import take_triplets
from ._ring_bank import MemoryMinerBase, RingBank
from .base import BaseMiner
from .n_hard_triplets import NHardTripletsMiner


def bank_logs(a: Array, p: Array, n: Array, n_batch: int, n_ref: int, dtype: Any, *, xp: Any) -> dict[str, Array]:
    """OML's ``last_logs``: mean number of distinct positives / negatives per anchor from bank and batch.

    Averages over the anchors that have triplets; values are 0-D arrays (no host sync).
    Empty when there is no triplet.
    """
    if a.shape[0] == 0:
        return {}
    sa = xp.sort(a)
    n_anchors = xp.astype(xp.sum(xp.astype(sa[1:] != sa[:-1], dtype)) + 1, dtype)
    out: dict[str, Array] = {}
    for name, x in (("positives", p), ("negatives", n)):
        key = xp.sort(a * n_ref + x)
        first = xp.concat([xp.ones((1,), dtype=xp.bool, device=namespace_and_device(a)[1]), key[1:] != key[:-1]])
        from_bank = xp.logical_and(first, (key % n_ref) >= n_batch)
        n_bank = xp.sum(xp.astype(from_bank, dtype))
        n_all = xp.sum(xp.astype(first, dtype))
        out[f"{name}_from_bank"] = n_bank / n_anchors
        out[f"{name}_from_batch"] = (n_all - n_bank) / n_anchors
    return out


class MinerWithBank(MemoryMinerBase, BaseMiner):
    """Cross-batch memory: anchors from the batch, positives and negatives from batch + bank.

    OML's ``MinerWithBank(bank_size_in_batches, miner, need_logs=True)``. The bank keeps the
    last ``bank_size_in_batches`` batches (FIFO, on the embeddings' namespace and device,
    detached). While it is filling, the inner miner mines the batch alone; once it is full,
    it mines the batch's anchors against ``E = concat([batch, bank])`` (the batch rows are
    never their own positive; OML masks bank rows out as anchors). Then the batch is
    enqueued (OML's order: a batch is not mined against its own copy).

    **Index contract.** Anchors are batch rows (``a < B``); ``p`` and ``n`` index ``E``
    (bank slot ``j`` is row ``B + j``). So either ``loss(x, y, (a, p, n), ref_emb=E,
    ref_labels=LE)`` or, with ``t = miner.mine_extended(x, y)``,
    ``loss(t.embeddings, t.labels, t.indices)``; :meth:`reference_set` gives ``E`` before a
    plain ``miner(x, y)`` call. :meth:`sample` returns OML's embeddings.

    **Inner miner.** OML accepts only ``NHardTripletsMiner``; with it (or
    :class:`HardTripletsMiner`) the result is exactly NHard mining of the batch anchors over
    ``E`` with the anchor's own row excluded, with the inner miner's distance (OML's raw
    Euclidean by default). Any other triplet miner of ours (or yours, a ``BaseMiner``) also
    works: it is called with ``ref_emb=E`` and its ``(a, p == a)`` self-comparisons are
    removed.

    ``need_logs`` stores OML's ``last_logs`` (mean distinct positives / negatives per anchor
    from bank and batch) as 0-D arrays in ``self.last_logs``. ``ref_emb`` is not accepted.

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.miners import MinerWithBank, NHardTripletsMiner
    >>> miner = MinerWithBank(bank_size_in_batches=1, miner=NHardTripletsMiner(1, 1))
    >>> x, y = np.array([[0.0], [1.0], [5.0], [7.0]]), [0, 0, 1, 1]
    >>> len(miner(x, y)[0]), miner.bank_is_full      # filling: in-batch mining
    (4, True)
    >>> a, p, n = miner(x + 0.5, y)                 # now against [batch; bank]
    >>> int(p.max()) >= 4 or int(n.max()) >= 4
    True
    """

    def __init__(
        self,
        bank_size_in_batches: int,
        miner: BaseMiner,
        need_logs: bool = True,
        *,
        collect_stats: bool = False,
    ) -> None:
        bank_size_in_batches = check_int(bank_size_in_batches, "bank_size_in_batches", minimum=1)
        if not isinstance(miner, BaseMiner):
            raise TypeError(
                f"miner must be a triplet miner (an agnostic_ml BaseMiner such as NHardTripletsMiner), "
                f"got {type(miner).__name__}"
            )
        if miner.builds_own_reference:
            raise TypeError(
                f"miner must mine rows of the given set; {type(miner).__name__} builds its own reference set"
            )
        super().__init__(collect_stats=collect_stats, distance=miner.distance)
        self.bank_size_in_batches = bank_size_in_batches
        self.miner = miner
        self.need_logs = bool(need_logs)
        self.last_logs: dict[str, Array] = {}
        self._bank = RingBank(self.bank_size_in_batches)

    def _bank_in_reference(self) -> bool:
        return self._bank.is_full

    def _mine_batch(self, emb: Array, lab: Array, ref: Array, ref_lab: Array) -> tuple[Any, ...]:
        xp, device = namespace_and_device(emb)
        b = emb.shape[0]
        with_bank = ref.shape[0] > b
        inner = self.miner
        if isinstance(inner, NHardTripletsMiner):
            mat = inner.distance(emb, ref) if with_bank else inner.distance(emb)
            a, p, n = inner.mine_from_matrix(mat, lab, ref_lab, exclude_self=True)
        else:
            out = inner.mine(emb, lab, ref, ref_lab) if with_bank else inner.mine(emb, lab, emb, lab)
            if not isinstance(out, tuple) or len(out) != 3:
                got = type(out).__name__ + (f" of length {len(out)}" if isinstance(out, tuple) else "")
                raise TypeError(f"MinerWithBank needs a triplet miner; {type(inner).__name__} returned {got}")
            idt = index_dtype(xp, device)
            a, p, n = (x if x.dtype == idt else xp.astype(x, idt) for x in out)
            if with_bank:
                (keep,) = nonzero(p != a, xp=xp)
                a, p, n = xp.take(a, keep), xp.take(p, keep), xp.take(n, keep)
        if self.need_logs:
            self.last_logs = bank_logs(a, p, n, b, ref.shape[0], emb.dtype, xp=xp)
        return a, p, n, None

    def sample(self, features: Array, labels: Any) -> tuple[Array, Array, Array]:
        """OML's call: the ``(anchor, positive, negative)`` embeddings; enqueues the batch."""
        xp, _ = namespace_and_device(features)
        t = self.mine_extended(features, labels)
        return take_triplets(t.embeddings, t.embeddings, t.anchors, t.positives, t.negatives, xp=xp)

    def __repr__(self) -> str:
        return f"MinerWithBank(bank_size_in_batches={self.bank_size_in_batches}, miner={self.miner!r})"
