"""Losses and miners over the whole batch of a ``torch.distributed`` job (PML's ``utils.distributed``).

Each rank embeds its share of the global batch. The wrappers all-gather embeddings and
labels so that the loss (or miner) sees every rank's rows; gradients flow to the local rows
only (``all_gather`` carries none), and DDP then averages the parameter gradients over ranks.

**Gradients equal single-process training.** With ``efficient=False`` every rank computes the
loss ``L`` of the whole global batch; rank ``r``'s backward gives ``dL/dx_r`` for its own rows,
and DDP's average over ranks would give ``(1/W) dL/dtheta``. The wrapper therefore returns a
value whose *gradient* is scaled by the world size ``W`` but whose *value* is ``L`` itself:
``L.detach() + W * (L - L.detach())``. Loss curves read the same as in one process and the
gradients after DDP's averaging are exactly those of one process on the concatenated batch
(tested with 2 gloo processes). PML returns ``W * L`` (PML#363, PML#732 ask why); the
gradients are the same.

**Rank order.** Gathered rows are in rank order (rank 0's rows first) on every rank, so all
ranks see the same global batch and a CrossBatchMemory inside the wrapper holds the same
queue on every rank (PML puts the local rows first, so queues differ across ranks: PML
PR #642). An ``indices_tuple`` from :class:`DistributedMinerWrapper` refers to the global
batch (a :class:`GatheredIndices`) and is used as is; any other tuple refers to the local
batch, as a local miner's output does in PML, and is shifted to the local rows' position.

**Uneven shares.** Ranks may hold batches of different sizes (the last batch of an epoch):
sizes are exchanged first and rows padded for the collective.

``efficient=True``: anchors are the local rows, the reference set is the global batch; with no
``indices_tuple`` all pairs are used without each row's pair with itself. Its gradients are,
by construction, those of the sum over ranks of these local losses (not of the global loss).

Outside an initialised process group (or with one process) the wrappers warn and compute the
plain loss / miner (PML's miner wrapper fails there).
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import nn

from agnostic_ml.losses import BaseMetricLossFunction, CrossBatchMemory
from agnostic_ml.miners import BaseMiner
from agnostic_ml.tuples import get_all_pairs_indices, remove_self_comparisons

__all__ = [
    "DistributedLossWrapper",
    "DistributedMinerWrapper",
    "GatheredIndices",
    "all_gather",
    "gather",
    "is_distributed",
    "world_size",
]


def is_distributed() -> bool:
    """Whether a ``torch.distributed`` process group is initialised.

    Examples
    --------
    >>> is_distributed(), world_size()  # not in a process group
    (False, 1)
    """
    return torch.distributed.is_available() and torch.distributed.is_initialized()


def world_size() -> int:
    """The number of processes of the group (1 outside one)."""
    return torch.distributed.get_world_size() if is_distributed() else 1


def all_gather(x: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Every rank's ``x`` concatenated in rank order, and the offset of the local rows in it.

    Ranks may pass different numbers of rows (the sizes are gathered first and the rows
    padded for the collective). The result carries no gradient except for the local rows,
    which are the caller's own tensor (spliced in, so autograd reaches them).

    PML's ``all_gather`` returns the *other* ranks' rows (and ``None`` with one process);
    this one returns all rows in rank order and the local offset.

    Examples
    --------
    Outside a process group (or with one process) it is the identity:

    >>> import torch
    >>> x = torch.ones(2, 3, requires_grad=True)
    >>> gathered, offset = all_gather(x)
    >>> gathered is x, offset
    (True, 0)
    """
    ws = world_size()
    if ws <= 1:
        return x, 0
    rank = torch.distributed.get_rank()
    n = torch.tensor([x.shape[0]], device=x.device, dtype=torch.int64)
    sizes = [torch.zeros_like(n) for _ in range(ws)]
    torch.distributed.all_gather(sizes, n)
    sizes_i = [int(s.item()) for s in sizes]
    top = max(sizes_i)
    xc = x.detach().contiguous()
    if xc.shape[0] < top:
        pad = torch.zeros((top - xc.shape[0], *xc.shape[1:]), dtype=xc.dtype, device=xc.device)
        xc = torch.cat([xc, pad], dim=0)
    parts = [torch.empty_like(xc) for _ in range(ws)]
    torch.distributed.all_gather(parts, xc)
    chunks = [p[:s] for p, s in zip(parts, sizes_i)]
    chunks[rank] = x  # the local rows keep their graph
    return torch.cat(chunks, dim=0), sum(sizes_i[:rank])


def gather(emb: torch.Tensor, labels: Any) -> tuple[torch.Tensor, Any, Any, int]:
    """Gathered ``(embeddings, labels)`` (labels moved to the embeddings' device), the local labels and offset.

    PML's ``gather`` returns ``(all_emb, all_labels, labels)`` with the local rows first;
    here the rows are in rank order and the fourth value says where the local ones are.

    Examples
    --------
    >>> import torch
    >>> all_emb, all_labels, labels, offset = gather(torch.zeros(3, 2), [0, 1, 1])
    >>> tuple(all_emb.shape), all_labels.tolist(), offset
    ((3, 2), [0, 1, 1], 0)
    """
    if labels is not None:
        labels = torch.as_tensor(labels, device=emb.device)
    all_emb, offset = all_gather(emb)
    all_labels = all_gather(labels)[0] if labels is not None else None
    return all_emb, all_labels, labels, offset


def _scaled(loss: torch.Tensor, ws: int) -> torch.Tensor:
    """Value ``loss``, gradient ``ws * dloss`` (undoes DDP's averaging over ``ws`` ranks)."""
    if ws <= 1 or not loss.requires_grad:
        return loss
    d = loss.detach()
    return d + ws * (loss - d)


class GatheredIndices(tuple):
    """An indices tuple that already refers to the gathered (global) batch.

    :class:`DistributedMinerWrapper` returns one; :class:`DistributedLossWrapper` passes it
    through unchanged, while a plain tuple (a local miner's output) is shifted to the local
    rows' position in the global batch.

    Examples
    --------
    >>> import torch
    >>> t = GatheredIndices((torch.tensor([0]), torch.tensor([1]), torch.tensor([2])))
    >>> isinstance(t, tuple), len(t)
    (True, 3)
    """


def _shift(indices_tuple: Any, offset: int, *, anchors_only: bool = False) -> Any:
    if indices_tuple is None or offset == 0 or isinstance(indices_tuple, GatheredIndices):
        return indices_tuple
    anchor_pos = {0} if len(indices_tuple) == 3 else {0, 2}
    return tuple(
        torch.as_tensor(t) + offset if (not anchors_only or i in anchor_pos) else torch.as_tensor(t)
        for i, t in enumerate(indices_tuple)
    )


def _local_pairs(labels: torch.Tensor, all_labels: torch.Tensor, offset: int, miner: Any = None,
                 emb: Any = None, all_emb: Any = None) -> tuple[torch.Tensor, ...]:
    """Local anchors against the global batch, without each local row's pair with its own copy."""
    if miner is not None:
        tup = miner(emb, labels, all_emb, all_labels)
    else:
        tup = get_all_pairs_indices(labels, all_labels)
    slots = torch.arange(offset, offset + labels.shape[0], device=labels.device)
    return remove_self_comparisons(tup, slots, all_labels.shape[0])


def _warn_not_distributed(who: str) -> None:
    warnings.warn(f"{who} is used outside a torch.distributed process group; computing it locally", stacklevel=3)


class DistributedLossWrapper(nn.Module):
    """PML's ``DistributedLossWrapper(loss, efficient=False)`` (see the module docstring).

    ``forward(embeddings, labels=None, indices_tuple=None, ref_emb=None, ref_labels=None,
    enqueue_mask=None)``; ``enqueue_mask`` only with a ``CrossBatchMemory`` (which takes no
    ``ref_emb`` and no ``efficient=True``, as in PML).

    Parameters
    ----------
    loss : BaseMetricLossFunction or CrossBatchMemory
        The loss to compute on the gathered batch (``TypeError`` otherwise).
    efficient : bool, default False
        ``False``: every rank computes the loss of the whole global batch (value: that loss;
        gradient scaled by the world size, so that DDP's average is the single-process
        gradient). ``True``: local anchors against the global batch as reference set.

    Examples
    --------
    Outside a process group the wrapper warns and returns the plain loss (a 2-process run is
    shown on the torch adapter page of the documentation):

    >>> import warnings
    >>> import torch
    >>> from agnostic_ml_torch import losses
    >>> loss = DistributedLossWrapper(losses.ContrastiveLoss())
    >>> emb, labels = torch.eye(4), torch.tensor([0, 0, 1, 1])
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     value = loss(emb, labels)
    >>> print(caught[0].message)
    DistributedLossWrapper is used outside a torch.distributed process group; computing it locally
    >>> bool(value == losses.ContrastiveLoss()(emb, labels))
    True
    """

    def __init__(self, loss: Any, efficient: bool = False) -> None:
        super().__init__()
        if not isinstance(loss, (BaseMetricLossFunction, CrossBatchMemory)):
            raise TypeError(f"loss must be a metric loss or a CrossBatchMemory, got {type(loss).__name__}")
        if isinstance(loss, CrossBatchMemory) and efficient:
            raise ValueError("CrossBatchMemory with efficient=True is not supported (PML#448)")
        self.loss = loss
        self.efficient = bool(efficient)

    def forward(
        self,
        embeddings: torch.Tensor,
        labels: Any = None,
        indices_tuple: Any = None,
        ref_emb: Any = None,
        ref_labels: Any = None,
        enqueue_mask: Any = None,
    ) -> torch.Tensor:
        xbm = isinstance(self.loss, CrossBatchMemory)
        if xbm and (ref_emb is not None or ref_labels is not None):
            raise ValueError("CrossBatchMemory is not compatible with ref_emb and ref_labels")
        if enqueue_mask is not None and not xbm:
            raise ValueError("enqueue_mask is only accepted when the wrapped loss is a CrossBatchMemory")
        ws = world_size()
        if ws <= 1:
            if not is_distributed():
                _warn_not_distributed(type(self).__name__)
            if xbm:
                return self.loss(embeddings, labels, indices_tuple, enqueue_mask)
            return self.loss(embeddings, labels, indices_tuple, ref_emb, ref_labels)
        all_emb, all_labels, labels, offset = gather(embeddings, labels)
        if xbm:
            mask = None if enqueue_mask is None else all_gather(torch.as_tensor(enqueue_mask, device=embeddings.device))[0]
            # A CrossBatchMemory tuple pairs batch anchors with memory slots: only anchors move.
            return _scaled(self.loss(all_emb, all_labels, _shift(indices_tuple, offset, anchors_only=True), mask), ws)
        all_ref, all_ref_labels = None, None
        if ref_emb is not None:
            all_ref, all_ref_labels, _, _ = gather(ref_emb, ref_labels)
        if self.efficient:
            refs = all_emb if all_ref is None else all_ref
            ref_lab = all_labels if all_ref is None else all_ref_labels
            if indices_tuple is None:
                if all_ref is not None:
                    indices_tuple = get_all_pairs_indices(labels, ref_lab)
                else:
                    indices_tuple = _local_pairs(labels, ref_lab, offset)
            return _scaled(self.loss(embeddings, labels, indices_tuple, refs, ref_lab), ws)
        return _scaled(self.loss(all_emb, all_labels, _shift(indices_tuple, offset), all_ref, all_ref_labels), ws)


class DistributedMinerWrapper(nn.Module):
    """PML's ``DistributedMinerWrapper(miner, efficient=False)``: mine the gathered batch.

    Use the same ``efficient`` as the loss wrapper. ``efficient=False``: indices into the
    global batch (rank order), to pass to a ``DistributedLossWrapper(efficient=False)``;
    ``efficient=True``: local anchors against the global batch, self pairs removed.
    Outside a process group it mines locally (PML fails there).

    Parameters
    ----------
    miner : BaseMiner
        Any miner (``TypeError`` otherwise).
    efficient : bool, default False

    Examples
    --------
    >>> import warnings
    >>> import torch
    >>> from agnostic_ml_torch import miners
    >>> miner = DistributedMinerWrapper(miners.BatchHardMiner())
    >>> emb, labels = torch.eye(4), torch.tensor([0, 0, 1, 1])
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")  # "used outside a torch.distributed process group"
    ...     a, p, n = miner(emb, labels)
    >>> a.tolist(), p.tolist()
    ([0, 1, 2, 3], [1, 0, 3, 2])
    """

    def __init__(self, miner: Any, efficient: bool = False) -> None:
        super().__init__()
        if not isinstance(miner, BaseMiner):
            raise TypeError(f"miner must be a miner (BaseMiner), got {type(miner).__name__}")
        self.miner = miner
        self.efficient = bool(efficient)

    def forward(self, emb: torch.Tensor, labels: Any, ref_emb: Any = None, ref_labels: Any = None) -> tuple[torch.Tensor, ...]:
        if world_size() <= 1:
            if not is_distributed():
                _warn_not_distributed(type(self).__name__)
            return self.miner(emb, labels, ref_emb, ref_labels)
        all_emb, all_labels, labels, offset = gather(emb, labels)
        all_ref, all_ref_labels = None, None
        if ref_emb is not None:
            all_ref, all_ref_labels, _, _ = gather(ref_emb, ref_labels)
        if self.efficient:
            if all_ref is not None:
                return self.miner(emb, labels, all_ref, all_ref_labels)
            return _local_pairs(labels, all_labels, offset, self.miner, emb, all_emb)
        return GatheredIndices(self.miner(all_emb, all_labels, all_ref, all_ref_labels))
