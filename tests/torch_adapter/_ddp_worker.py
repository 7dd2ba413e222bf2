"""Worker of the 2-process gloo tests of agnostic_ml_torch.distributed (run by test_distributed.py).

Each rank trains one step of a DDP model on its half of a global batch through the
wrappers, and checks the parameter gradients (after DDP's averaging) and the loss value
against a single-process computation on the concatenated batch, done in the same process.
Failures are written to ``out_dir/rank<r>.txt`` (the parent asserts the files say "ok").
"""

from __future__ import annotations

import copy
import os
import sys
import traceback

import torch
from torch.nn.parallel import DistributedDataParallel as DDP

from agnostic_ml_torch import losses, miners
from agnostic_ml_torch.distributed import DistributedLossWrapper, DistributedMinerWrapper

D_IN, D_OUT = 6, 4


def _data(step: int, sizes: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(100 + step)
    n = sum(sizes)
    x = torch.randn(n, D_IN, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (n,), generator=g)
    return x, y


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Linear(D_IN, D_OUT).double()


def _grads(model: torch.nn.Module) -> list[torch.Tensor]:
    return [p.grad.detach().clone() for p in model.parameters()]


def _close(a: torch.Tensor, b: torch.Tensor, what: str) -> None:
    if not torch.allclose(a, b, rtol=1e-9, atol=1e-12):
        raise AssertionError(f"{what}: {a.flatten()[:5].tolist()} != {b.flatten()[:5].tolist()}")


def check_regular(rank: int, ws: int, sizes: tuple[int, ...], make_loss, miner_factory=None) -> None:
    """Non-efficient wrapper (optionally with a wrapped miner) == one process on the whole batch."""
    x, y = _data(0, sizes)
    lo = sum(sizes[:rank])
    xl, yl = x[lo : lo + sizes[rank]], y[lo : lo + sizes[rank]]
    model = _model()
    ddp = DDP(copy.deepcopy(model))
    wrapper = DistributedLossWrapper(make_loss())
    emb = ddp(xl)
    tup = DistributedMinerWrapper(miner_factory())(emb.detach(), yl) if miner_factory else None
    value = wrapper(emb, yl, tup)
    value.backward()
    ref_model = copy.deepcopy(model)
    ref_emb = ref_model(x)
    ref_tup = miner_factory()(ref_emb.detach(), y) if miner_factory else None
    ref_value = make_loss()(ref_emb, y, ref_tup)
    ref_value.backward()
    _close(value.detach(), ref_value.detach(), "loss value")
    for a, b in zip(_grads(ddp.module), _grads(ref_model)):
        _close(a, b, "parameter gradient")


def check_efficient(rank: int, ws: int, sizes: tuple[int, ...]) -> None:
    """efficient=True == the sum over ranks of local-anchor losses, each backpropagated into its own rows."""
    x, y = _data(1, sizes)
    lo = sum(sizes[:rank])
    model = _model()
    ddp = DDP(copy.deepcopy(model))
    emb = ddp(x[lo : lo + sizes[rank]])
    value = DistributedLossWrapper(losses.ContrastiveLoss(), efficient=True)(emb, y[lo : lo + sizes[rank]])
    value.backward()
    from agnostic_ml.tuples import get_all_pairs_indices, remove_self_comparisons

    ref_model = copy.deepcopy(model)
    full = ref_model(x)
    total = 0
    for r in range(ws):
        s = sum(sizes[:r])
        e = s + sizes[r]
        mine = full[s:e]
        refs = torch.cat([full[:s].detach(), mine, full[e:].detach()])
        tup = remove_self_comparisons(get_all_pairs_indices(y[s:e], y), torch.arange(s, e), len(y))
        loss_r = losses.ContrastiveLoss()(mine, y[s:e], tup, refs, y)
        if r == rank:
            _close(value.detach(), loss_r.detach(), "efficient local loss value")
        total = total + loss_r
    total.backward()
    for a, b in zip(_grads(ddp.module), _grads(ref_model)):
        _close(a, b, "efficient parameter gradient")


def check_cross_batch_memory(rank: int, ws: int, sizes: tuple[int, ...]) -> None:
    """CrossBatchMemory inside the wrapper: same queue on every rank, same loss and gradients as one process."""
    model = _model()
    ddp = DDP(copy.deepcopy(model))
    ref_model = copy.deepcopy(model)
    wrapped = DistributedLossWrapper(losses.CrossBatchMemory(losses.ContrastiveLoss(), D_OUT, memory_size=64))
    single = losses.CrossBatchMemory(losses.ContrastiveLoss(), D_OUT, memory_size=64)
    opt = torch.optim.SGD(ddp.parameters(), lr=0.1)
    ref_opt = torch.optim.SGD(ref_model.parameters(), lr=0.1)
    for step in range(3):
        x, y = _data(10 + step, sizes)
        lo = sum(sizes[:rank])
        opt.zero_grad()
        ref_opt.zero_grad()
        value = wrapped(ddp(x[lo : lo + sizes[rank]]), y[lo : lo + sizes[rank]])
        value.backward()
        ref_value = single(ref_model(x), y)
        ref_value.backward()
        _close(value.detach(), ref_value.detach(), f"XBM loss at step {step}")
        for a, b in zip(_grads(ddp.module), _grads(ref_model)):
            _close(a, b, f"XBM gradient at step {step}")
        opt.step()
        ref_opt.step()
    _close(wrapped.loss.embedding_memory, single.embedding_memory, "XBM queue")


def main(rank: int, ws: int, port: int, out_dir: str) -> None:
    torch.set_num_threads(1)
    torch.distributed.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=ws)
    status = "ok"
    try:
        check_regular(rank, ws, (8, 8), losses.ContrastiveLoss)
        check_regular(rank, ws, (9, 6), lambda: losses.TripletMarginLoss(margin=0.2))  # unequal shares
        check_regular(rank, ws, (8, 8), losses.ContrastiveLoss, lambda: miners.MultiSimilarityMiner(epsilon=0.3))
        check_efficient(rank, ws, (8, 7))
        check_cross_batch_memory(rank, ws, (6, 6))
        torch.distributed.barrier()  # on success: no rank tears gloo down while another still uses it
    except Exception:  # reported to the parent through the file
        status = traceback.format_exc()
    finally:
        torch.distributed.destroy_process_group()
    with open(os.path.join(out_dir, f"rank{rank}.txt"), "w") as fh:
        fh.write(status)


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
