"""CrossBatchMemory: mine the batch against a FIFO queue of past embeddings (Wang et al. 2020, XBM)."""

from __future__ import annotations

from typing import Any

from .._array_api import at, follow, index_dtype, namespace_and_device, no_grad, nonzero, same_device, to_numpy
from .._budget import DEFAULT_OUTPUT_BUDGET
from .._checks import check_finite, prepare_indices, prepare_labels
from .._stats import RecordsStats
from ..tuples import convert_to_pairs, convert_to_triplets, get_all_pairs_indices, remove_self_comparisons
from .wrappers import TUPLE_LOSSES, BaseLossWrapper

Array = Any


class CrossBatchMemory(BaseLossWrapper, RecordsStats):
    """PML's ``CrossBatchMemory(loss, embedding_size, memory_size=1024, miner=None)``.

    ``forward(embeddings, labels, indices_tuple=None, enqueue_mask=None)``:

    1. the batch (or, with ``enqueue_mask``, only its masked rows, MoCo-style; those rows are
       then removed from the anchors) is written into the queue, ring-buffer style from
       ``queue_idx``, detached; ``curr_batch_idx`` holds the slots written;
    2. the reference set is the filled part of the queue (the whole queue once it wrapped);
    3. the batch's anchors are mined against it with ``miner`` (or all pairs); without a
       mask, the comparisons of a row with its own just-written copy are removed;
    4. a user ``indices_tuple`` (not allowed together with ``enqueue_mask``) is converted to
       the miner's format and appended;
    5. returns ``loss(embeddings, labels, indices_tuple, memory, memory_labels)``.

    The queue (``embedding_memory``, ``label_memory``) and the position (``queue_idx``,
    ``has_been_filled``) are state: in the torch adapter the arrays are buffers of the module
    (``state_dict`` saves and restores them, PML's keys) and the position is its extra state
    (PML does not save it). The queue follows the embeddings' namespace, device and dtype
    (labels' dtype for ``label_memory``). Errors are ``ValueError`` s with messages where PML
    asserts: a batch larger than the queue, an ``enqueue_mask`` of the wrong shape or dtype,
    or more masked rows than the queue holds. Non-finite embeddings raise ``ValueError``
    before they are enqueued (unless the wrapped loss has ``check_finite=False``). The wrapped
    loss must be one of PML's tuple losses (:data:`agnostic_ml.losses.wrappers.TUPLE_LOSSES`
    or MarginLoss, or subclasses).
    ``reset_queue()`` empties it.

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.losses import ContrastiveLoss, CrossBatchMemory
    >>> xbm = CrossBatchMemory(ContrastiveLoss(), embedding_size=2, memory_size=4)
    >>> emb = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-0.6, 0.8]])
    >>> round(float(xbm(emb[:2], [0, 1])), 4), xbm.queue_idx  # the queue held nothing before
    (0.3675, 2)
    >>> round(float(xbm(emb[2:], [0, 1])), 4)  # mined against the 4 queued rows
    1.6944
    >>> xbm.queue_idx, xbm.has_been_filled, xbm.label_memory.tolist()
    (0, True, [0, 1, 0, 1])
    """

    _state_arrays = ("embedding_memory", "label_memory")
    _state_scalars = ("queue_idx", "has_been_filled")

    def __init__(self, loss: Any, embedding_size: int, memory_size: int = 1024, miner: Any = None, **kwargs: Any) -> None:
        super().__init__(loss=loss, **kwargs)
        for name, v in (("embedding_size", embedding_size), ("memory_size", memory_size)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        if miner is not None and not callable(miner):
            raise TypeError(f"miner must be a miner or None, got {type(miner).__name__}")
        self.collect_stats = False
        self.stats: dict[str, Any] = {}
        self.loss = loss
        self.miner = miner
        self.embedding_size = embedding_size
        self.memory_size = memory_size
        self.curr_batch_idx: Array | None = None
        self.reset_queue()

    @staticmethod
    def supported_losses() -> list[str]:
        return sorted(TUPLE_LOSSES + ("MarginLoss",))

    def reset_queue(self) -> None:
        """Empty the queue (zeros, as PML: float32 embeddings, int64 labels)."""
        self.set_state("embedding_memory", self.new_state_array((self.memory_size, self.embedding_size), "float"))
        self.set_state("label_memory", self.new_state_array((self.memory_size,), "int"))
        self.has_been_filled = False
        self.queue_idx = 0

    def _follow(self, name: str, xp: Any, device: Any, dtype: Any) -> Array:
        arr = getattr(self, name)
        same_ns = namespace_and_device(arr)[0] is xp if hasattr(arr, "shape") else False
        if not same_ns or not same_device(namespace_and_device(arr)[1], device) or arr.dtype != dtype:
            arr = xp.asarray(arr, dtype=dtype, device=device) if same_ns else xp.asarray(to_numpy(arr), dtype=dtype, device=device)
            self.set_state(name, arr)
        return arr

    def forward(self, embeddings: Array, labels: Any, indices_tuple: Any = None, enqueue_mask: Any = None) -> Array:
        if indices_tuple is not None and enqueue_mask is not None:
            raise ValueError("indices_tuple and enqueue_mask are mutually exclusive")
        xp, device = namespace_and_device(embeddings)
        if not xp.isdtype(embeddings.dtype, "real floating"):
            raise TypeError(f"embeddings must have a real floating dtype, got {embeddings.dtype}")
        if embeddings.ndim != 2 or embeddings.shape[1] != self.embedding_size:
            raise ValueError(
                f"embeddings must have shape (batch, embedding_size={self.embedding_size}), got {tuple(embeddings.shape)}"
            )
        n = embeddings.shape[0]
        labels = prepare_labels(labels, n, xp=xp, device=device, name="labels")
        if getattr(self.loss, "check_finite", True):
            # before the batch is enqueued: a NaN row in the queue would poison every later batch
            check_finite(embeddings, "embeddings", xp, where="CrossBatchMemory")
        emb_mem = self._follow("embedding_memory", xp, device, embeddings.dtype)
        self._follow("label_memory", xp, device, labels.dtype)
        if enqueue_mask is not None:
            mask = self._mask(enqueue_mask, n, xp, device)
            (q_rows,) = nonzero(mask, xp=xp)
            (a_rows,) = nonzero(xp.logical_not(mask), xp=xp)
            emb_for_queue, labels_for_queue = xp.take(embeddings, q_rows, axis=0), xp.take(labels, q_rows)
            embeddings, labels = xp.take(embeddings, a_rows, axis=0), xp.take(labels, a_rows)
            if emb_for_queue.shape[0] > self.memory_size:
                raise ValueError(
                    f"enqueue_mask selects {emb_for_queue.shape[0]} rows but the memory holds {self.memory_size}"
                )
            remove_self = False
        else:
            if n > emb_mem.shape[0]:
                raise ValueError(f"the batch ({n} rows) is larger than the memory (memory_size={self.memory_size})")
            emb_for_queue, labels_for_queue = embeddings, labels
            remove_self = True
        self.add_to_memory(emb_for_queue, labels_for_queue, emb_for_queue.shape[0])
        if not self.has_been_filled:
            e_mem = self.embedding_memory[: self.queue_idx, ...]
            l_mem = self.label_memory[: self.queue_idx]
        else:
            e_mem, l_mem = self.embedding_memory, self.label_memory
        tup = self.create_indices_tuple(embeddings, labels, e_mem, l_mem, indices_tuple, remove_self)
        return self.loss(embeddings, labels, tup, e_mem, l_mem)

    @staticmethod
    def _mask(enqueue_mask: Any, n: int, xp: Any, device: Any) -> Array:
        mask = follow(enqueue_mask, xp, device, name="enqueue_mask")
        if mask.ndim != 1 or mask.shape[0] != n:
            raise ValueError(f"enqueue_mask must have shape ({n},) (one entry per embedding), got {tuple(mask.shape)}")
        if not xp.isdtype(mask.dtype, "bool"):
            raise TypeError(f"enqueue_mask must be boolean, got dtype {mask.dtype}")
        return mask

    def add_to_memory(self, embeddings: Array, labels: Array, batch_size: int) -> None:
        """Write ``batch_size`` rows at ``queue_idx`` (wrapping around), detached."""
        xp, device = namespace_and_device(self.embedding_memory)
        q, m = self.queue_idx, self.memory_size
        idt = index_dtype(xp, device)
        self.curr_batch_idx = (xp.arange(q, q + batch_size, dtype=idt, device=device)) % m
        first = min(batch_size, m - q)
        emb_mem, lab_mem = self.embedding_memory, self.label_memory
        lab = labels if labels.dtype == lab_mem.dtype else xp.astype(labels, lab_mem.dtype)
        with no_grad(xp):
            if first > 0:
                emb_mem = at(emb_mem)[q : q + first, ...].set(embeddings[:first, ...], copy=True)
                lab_mem = at(lab_mem)[q : q + first].set(lab[:first], copy=True)
            if batch_size > first:
                emb_mem = at(emb_mem)[: batch_size - first, ...].set(embeddings[first:, ...], copy=True)
                lab_mem = at(lab_mem)[: batch_size - first].set(lab[first:], copy=True)
        self.set_state("embedding_memory", emb_mem)
        self.set_state("label_memory", lab_mem)
        prev = self.queue_idx
        self.queue_idx = (self.queue_idx + batch_size) % m
        # batch_size > 0: PML marks the queue full after an empty enqueue (queue_idx unchanged).
        if not self.has_been_filled and self.queue_idx <= prev and batch_size > 0:
            self.has_been_filled = True

    def create_indices_tuple(
        self, embeddings: Array, labels: Array, e_mem: Array, l_mem: Array, input_indices_tuple: Any, remove_self: bool
    ) -> tuple[Array, ...]:
        if self.miner is not None:
            tup = self.miner(embeddings, labels, e_mem, l_mem)
        else:
            tup = get_all_pairs_indices(
                labels, l_mem, output_budget=getattr(self.loss, "output_budget", DEFAULT_OUTPUT_BUDGET)
            )
        if remove_self:
            tup = remove_self_comparisons(tup, self.curr_batch_idx, self.memory_size)
        if input_indices_tuple is not None:
            xp, device = namespace_and_device(embeddings)
            if not isinstance(input_indices_tuple, (tuple, list)) or len(input_indices_tuple) not in (3, 4):
                raise ValueError("indices_tuple must be triplets (a, p, n) or pairs (a1, p, a2, n)")
            input_indices_tuple = tuple(
                prepare_indices(t, xp=xp, device=device, name=f"indices_tuple[{i}]") for i, t in enumerate(input_indices_tuple)
            )
            if len(input_indices_tuple) == 3 and len(tup) == 4:
                input_indices_tuple = convert_to_pairs(input_indices_tuple, labels, l_mem, like=embeddings)
            elif len(input_indices_tuple) == 4 and len(tup) == 3:
                input_indices_tuple = convert_to_triplets(input_indices_tuple, labels, l_mem, like=embeddings)
            tup = tuple(xp.concat([a, xp.astype(b, a.dtype)]) for a, b in zip(tup, input_indices_tuple))
        return tup
