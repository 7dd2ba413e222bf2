"""The non-finite policy through the torch adapter's nn.Module shells.

The shells run the core's ``forward`` (``nn.Module.__call__`` -> core), so the policy
holds for them too: a NaN in a torch tensor that requires grad raises the core's
``ValueError`` naming the row, ``check_finite`` is a plain attribute (constructor argument
for losses, settable on every miner) that ``.to()`` / ``state_dict`` leave alone, and the
check builds no autograd graph.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from agnostic_ml import OutputTooLargeError  # noqa: E402
from agnostic_ml_torch import losses, miners, regularizers  # noqa: E402
from catalogue.core_components import D, loss_classes, make_loss  # noqa: E402

LAB = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])


def _bad(row=2):
    x = torch.randn(8, D, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    x[row, 1] = float("nan")
    return x.requires_grad_(True)


@pytest.mark.parametrize("name", [c.__name__ for c in loss_classes()])
def test_every_loss_shell_raises_on_nan(name):
    shell = make_loss(getattr(losses, name))
    assert isinstance(shell, torch.nn.Module) and shell.check_finite is True
    x = _bad()
    with pytest.raises(ValueError, match=f"{name}: embeddings row 2 contains NaN"):
        if name == "VICRegLoss":
            shell(x, ref_emb=torch.randn(8, D, dtype=torch.float64))
        elif name == "ManifoldLoss":
            shell(x)
        else:
            shell(x, LAB)
    assert x.grad is None


@pytest.mark.parametrize("name", ["BatchHardMiner", "MultiSimilarityMiner", "TripletMarginMiner", "AllTripletsMiner"])
def test_miner_shells_raise_and_opt_out(name):
    miner = getattr(miners, name)()
    with pytest.raises(ValueError, match=f"{name}: embeddings row 5 contains NaN"):
        miner(_bad(5), LAB)
    miner.check_finite = False
    miner.to(torch.float64)
    assert miner.check_finite is False
    try:
        miner(_bad(5), LAB)
    except ValueError as exc:  # TripletMarginMiner still refuses a non-finite *distance matrix*
        assert "check_finite=False" not in str(exc)


def test_loss_shell_opt_out_and_budget_are_plain_attributes():
    loss = losses.TripletMarginLoss(check_finite=False, output_budget=10, swap=True)
    assert loss.check_finite is False and loss.output_budget == 10
    assert "check_finite" not in dict(loss.named_parameters())
    with pytest.raises(OutputTooLargeError, match="48 triplets"):
        loss(torch.randn(8, D), LAB)
    loss.output_budget = None
    out = loss(torch.randn(8, D, requires_grad=True), LAB)
    out.backward()


def test_regularizer_shell_raises():
    with pytest.raises(ValueError, match="LpRegularizer: x row 2 contains NaN"):
        regularizers.LpRegularizer()(_bad())


def test_cross_batch_memory_shell_keeps_its_buffers_clean():
    xbm = losses.CrossBatchMemory(losses.ContrastiveLoss(), D, memory_size=16)
    xbm(torch.randn(8, D), LAB)
    before = xbm.embedding_memory.clone()
    with pytest.raises(ValueError, match="CrossBatchMemory: embeddings row 2 contains NaN"):
        xbm(_bad().float(), LAB)
    assert torch.equal(before, xbm.embedding_memory) and np.isfinite(xbm.embedding_memory.numpy()).all()
