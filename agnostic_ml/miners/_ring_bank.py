"""A FIFO memory bank of past batches that lives on the embeddings' namespace and device."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._array_api import at, namespace_and_device, no_grad, same_device, to_numpy
from .._component import Component
from .._typing import Array
from .base import refuse_ref_args
from .indexed_triplets import IndexedTriplets


class RingBank(Component):
    """The last ``size_in_batches`` batches of (embeddings, labels), OML-style.

    The bank is allocated at the first batch (``size = size_in_batches * batch_size`` rows,
    the namespace, device and dtype of that batch) and written as a ring buffer: each batch
    goes to slots ``[ptr, ptr + B)``, then ``ptr = (ptr + B) mod size``. Writes are
    functional (``array_api_extra.at(...).set(copy=True)``), so an array handed out earlier
    is never modified, and stored rows are detached (written without autograd). The
    batch size must stay constant (as OML requires); slots fill in order from 0, so the
    filled part is always the prefix ``[0, filled)``.

    ``keep_host_labels`` keeps a NumPy mirror of the labels for host-side sampling.
    The arrays and the pointer are declared state: in the torch adapter they are buffers and
    extra state of the miner's module, saved and restored by ``state_dict`` and moved by
    ``.to(device)``; the namespace and device are always read off the stored arrays.
    """

    _state_arrays = ("embeddings", "labels")
    _state_scalars = ("batch_size", "size", "ptr", "filled")

    def __init__(self, size_in_batches: int, *, keep_host_labels: bool = False) -> None:
        super().__init__()
        self.size_in_batches = size_in_batches
        self.keep_host_labels = keep_host_labels
        self.reset()

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("RingBank is state, not a callable; use prepare/push/filled_part")

    def reset(self) -> None:
        """Forget everything; the next batch allocates a new bank."""
        self.set_state("embeddings", None)
        self.set_state("labels", None)
        self.labels_host: np.ndarray | None = None
        self.batch_size = -1
        self.size = -1
        self.ptr = 0
        self.filled = 0

    def after_state_load(self) -> None:
        self.labels_host = None
        if self.keep_host_labels and self.labels is not None:
            self.labels_host = np.array(to_numpy(self.labels))

    @property
    def is_full(self) -> bool:
        return self.size > 0 and self.filled >= self.size

    def prepare(self, embeddings: Array, labels: Array, owner: str) -> None:
        """Allocate the bank at the first batch; check later batches against it."""
        xp, device = namespace_and_device(embeddings)
        b, d = embeddings.shape
        if self.embeddings is None:
            if b == 0:
                raise ValueError(
                    f"{owner}: the first batch is empty; the bank holds bank_size_in_batches * batch size rows"
                )
            self.batch_size = b
            self.size = self.size_in_batches * b
            self.set_state("embeddings", xp.zeros((self.size, d), dtype=embeddings.dtype, device=device))
            self.set_state("labels", xp.zeros((self.size,), dtype=labels.dtype, device=device))
            if self.keep_host_labels:
                self.labels_host = np.zeros((self.size,), dtype=to_numpy(labels[:0]).dtype)
            return
        bank_xp, bank_device = namespace_and_device(self.embeddings)
        if xp is not bank_xp:
            raise TypeError(
                f"{owner}: the memory bank holds arrays of {bank_xp.__name__}, got {xp.__name__}; call reset()"
            )
        if not same_device(bank_device, device):
            raise ValueError(
                f"{owner}: the memory bank is on device {bank_device}, the batch on {device}; call reset()"
            )
        if b != self.batch_size:
            raise ValueError(
                f"{owner}: the batch size must stay constant (the bank was sized for batches of "
                f"{self.batch_size}), got a batch of {b}; call reset() to start over"
            )
        if d != self.embeddings.shape[1]:
            raise ValueError(f"{owner}: the bank holds {self.embeddings.shape[1]}-dim embeddings, got {d}-dim ones")
        if embeddings.dtype != self.embeddings.dtype:
            raise TypeError(f"{owner}: the bank holds {self.embeddings.dtype} embeddings, got {embeddings.dtype}")

    def filled_part(self) -> tuple[Array, Array]:
        """The stored rows ``[0, filled)`` (slot order, not age order) and their labels."""
        assert self.embeddings is not None and self.labels is not None
        return self.embeddings[: self.filled, ...], self.labels[: self.filled]

    def push(self, embeddings: Array, labels: Array) -> None:
        """Write a batch at ``ptr`` (detached) and advance the pointer."""
        xp, _ = namespace_and_device(self.embeddings)
        s, e = self.ptr, self.ptr + self.batch_size
        lab = labels if labels.dtype == self.labels.dtype else xp.astype(labels, self.labels.dtype)
        with no_grad(xp):
            self.set_state("embeddings", at(self.embeddings)[s:e, ...].set(embeddings, copy=True))
            self.set_state("labels", at(self.labels)[s:e].set(lab, copy=True))
        if self.labels_host is not None:
            self.labels_host[s:e] = to_numpy(labels)
        self.ptr = e % self.size
        self.filled = min(self.filled + self.batch_size, self.size)


class MemoryMinerBase:
    """Shared plumbing of the memory-bank miners (mixed into a :class:`BaseMiner` subclass).

    One step = mine the batch against the reference set ``E = [batch; bank rows]``, then
    enqueue the batch (OML's order: the batch is never mined against its own copy). All
    indices refer to ``E``; :meth:`mine_extended` returns them with ``E`` itself.
    Subclasses set ``self._bank`` and implement ``_bank_in_reference()`` and
    ``_mine_batch(emb, lab, ref, ref_lab) -> (a, p, n, is_original | None)``.
    """

    _bank: RingBank
    builds_own_reference = True  # BaseMiner.forward refuses ref_emb / ref_labels

    def mine(self, embeddings: Array, labels: Array, ref_emb: Array, ref_labels: Array) -> tuple[Array, Array, Array]:
        refuse_ref_args(self, ref_emb, ref_labels, labels=labels)
        a, p, n, _, _, _ = self._step(embeddings, labels)
        return a, p, n

    def _bank_in_reference(self) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def _mine_batch(self, emb: Array, lab: Array, ref: Array, ref_lab: Array) -> tuple[Any, ...]:  # pragma: no cover
        raise NotImplementedError

    def _step(self, emb: Array, lab: Array) -> tuple[Any, ...]:
        xp, _ = namespace_and_device(emb)
        self._bank.prepare(emb, lab, type(self).__name__)
        ref, ref_lab = self._reference(emb, lab, xp)
        a, p, n, original = self._mine_batch(emb, lab, ref, ref_lab)
        self._bank.push(emb, lab)
        return a, p, n, original, ref, ref_lab

    def _reference(self, emb: Array, lab: Array, xp: Any) -> tuple[Array, Array]:
        if self._bank.embeddings is None or not self._bank_in_reference():
            return emb, lab
        bank_emb, bank_lab = self._bank.filled_part()
        if bank_lab.dtype != lab.dtype:
            bank_lab = xp.astype(bank_lab, lab.dtype)
        return xp.concat([emb, bank_emb], axis=0), xp.concat([lab, bank_lab])

    def reset(self) -> None:
        """Empty the memory bank (the next batch may have another size, dtype or device)."""
        self._bank.reset()

    @property
    def bank_embeddings(self) -> Array | None:
        """The stored rows (slot order), or None before the first batch."""
        return None if self._bank.embeddings is None else self._bank.filled_part()[0]

    @property
    def bank_labels(self) -> Array | None:
        return None if self._bank.labels is None else self._bank.filled_part()[1]

    @property
    def bank_is_full(self) -> bool:
        return self._bank.is_full

    def reference_set(self, embeddings: Array, labels: Any) -> tuple[Array, Array]:
        """The set ``E`` (and labels) that the *next* call's indices will refer to.

        Call it before ``miner(embeddings, labels)`` (which enqueues the batch), e.g.
        ``E, LE = miner.reference_set(x, y); a, p, n = miner(x, y); loss(E, LE, (a, p, n))``.
        Batch rows stay differentiable. :meth:`mine_extended` does both in one call.
        """
        batch = self.prepare_inputs(embeddings, labels)
        return self._reference(batch.embeddings, batch.labels, batch.xp)

    def mine_extended(self, embeddings: Array, labels: Any) -> IndexedTriplets:
        """Mine, enqueue the batch, and return the indices with the set ``E`` they index.

        Returns an :class:`IndexedTriplets` ``(embeddings=E, labels, anchors, positives,
        negatives, is_original)``; ``E = [batch; bank rows]`` keeps the batch rows
        differentiable (bank rows are detached copies).
        """
        batch = self.prepare_inputs(embeddings, labels)
        xp, emb, lab = batch.xp, batch.embeddings, batch.labels
        with no_grad(xp):
            a, p, n, original, ref, ref_lab = self._step(emb, lab)
        b = emb.shape[0]
        ref_grad = xp.concat([emb, ref[b:, ...]], axis=0) if ref.shape[0] > b else emb
        return IndexedTriplets(ref_grad, ref_lab, a, p, n, original)
