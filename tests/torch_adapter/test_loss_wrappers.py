"""CrossBatchMemory, MultipleLosses, SelfSupervisedLoss and VICRegLoss specifics."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pml_losses = pytest.importorskip("pytorch_metric_learning.losses")
pml_miners = pytest.importorskip("pytorch_metric_learning.miners")

from agnostic_ml_torch import losses, miners  # noqa: E402


def _steps(n_steps, b=12, d=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    for _ in range(n_steps):
        yield torch.randn(b, d, generator=g, dtype=torch.float64, requires_grad=True), torch.randint(0, 4, (b,), generator=g)


@pytest.mark.parametrize("with_miner", [False, True])
def test_cross_batch_memory_matches_pml_over_several_steps_with_wraparound(with_miner):
    ours = losses.CrossBatchMemory(losses.ContrastiveLoss(), 6, memory_size=30, miner=miners.MultiSimilarityMiner(0.1) if with_miner else None)
    theirs = pml_losses.CrossBatchMemory(pml_losses.ContrastiveLoss(), 6, memory_size=30, miner=pml_miners.MultiSimilarityMiner(0.1) if with_miner else None)
    for x, y in _steps(6):  # 6 x 12 rows through a 30-row queue: it wraps twice
        a, b = ours(x, y), theirs(x, y)
        (ga,), (gb,) = torch.autograd.grad(a, x), torch.autograd.grad(b, x)
        assert torch.allclose(a, b, rtol=1e-10) and torch.allclose(ga, gb, rtol=1e-9, atol=1e-12)
        assert ours.queue_idx == theirs.queue_idx and ours.has_been_filled == theirs.has_been_filled
        assert torch.equal(ours.embedding_memory, theirs.embedding_memory.double())


def test_cross_batch_memory_enqueue_mask_matches_pml():
    ours = losses.CrossBatchMemory(losses.ContrastiveLoss(), 6, memory_size=20)
    theirs = pml_losses.CrossBatchMemory(pml_losses.ContrastiveLoss(), 6, memory_size=20)
    for x, y in _steps(4, b=10, seed=3):
        mask = torch.arange(10) % 2 == 0
        assert torch.allclose(ours(x, y, enqueue_mask=mask), theirs(x, y, enqueue_mask=mask), rtol=1e-10)


def test_cross_batch_memory_state_dict_and_reset():
    xbm = losses.CrossBatchMemory(losses.ContrastiveLoss(), 6, memory_size=30)
    for x, y in _steps(3):
        xbm(x, y)
    sd = xbm.state_dict()
    assert set(sd) == {"embedding_memory", "label_memory", "_extra_state"}
    assert sd["_extra_state"] == {"queue_idx": 6, "has_been_filled": True}
    clone = losses.CrossBatchMemory(losses.ContrastiveLoss(), 6, memory_size=30)
    clone.load_state_dict(sd)
    x, y = next(_steps(1, seed=9))
    assert torch.allclose(xbm(x, y), clone(x, y), rtol=1e-6)  # the fresh buffers are float32, as PML's
    xbm.reset_queue()
    assert xbm.queue_idx == 0 and not xbm.has_been_filled and float(xbm.embedding_memory.abs().sum()) == 0
    xbm.to(torch.float64)
    assert xbm.embedding_memory.dtype == torch.float64


def test_cross_batch_memory_errors():
    xbm = losses.CrossBatchMemory(losses.ContrastiveLoss(), 6, memory_size=8)
    x, y = next(_steps(1))
    with pytest.raises(ValueError, match="larger than the memory"):
        xbm(x, y)
    with pytest.raises(ValueError, match="enqueue_mask must have shape"):
        xbm(x[:4], y[:4], enqueue_mask=torch.ones(3, dtype=torch.bool))
    with pytest.raises(TypeError, match="enqueue_mask must be boolean"):
        xbm(x[:4], y[:4], enqueue_mask=torch.ones(4))
    with pytest.raises(ValueError, match="mutually exclusive"):
        xbm(x[:4], y[:4], (torch.tensor([0]), torch.tensor([1]), torch.tensor([2])), torch.ones(4, dtype=torch.bool))
    with pytest.raises(ValueError, match="embedding_size=6"):
        xbm(torch.randn(4, 5), y[:4])
    with pytest.raises(TypeError, match="does not support"):
        losses.CrossBatchMemory(losses.VICRegLoss(), 6)
    with pytest.raises(ValueError, match="memory_size"):
        losses.CrossBatchMemory(losses.ContrastiveLoss(), 6, memory_size=0)


def test_cross_batch_memory_on_numpy():
    from agnostic_ml.losses import ContrastiveLoss, CrossBatchMemory

    xbm = CrossBatchMemory(ContrastiveLoss(), 6, memory_size=30)
    shell = losses.CrossBatchMemory(losses.ContrastiveLoss(), 6, memory_size=30)
    for x, y in _steps(3):
        assert float(xbm(x.detach().numpy(), y.numpy())) == pytest.approx(float(shell(x, y)), rel=1e-9)
    assert isinstance(xbm.embedding_memory, np.ndarray)


def test_multiple_losses_errors_and_modules():
    with pytest.raises(ValueError, match="exactly the keys"):
        losses.MultipleLosses({"a": losses.ContrastiveLoss(), "b": losses.TripletMarginLoss()}, weights={"a": 1})
    with pytest.raises(ValueError, match="one entry per loss"):
        losses.MultipleLosses([losses.ContrastiveLoss()], weights=[1, 2])
    with pytest.raises(ValueError, match="not keys of losses"):
        losses.MultipleLosses({"a": losses.ContrastiveLoss()}, miners={"z": miners.BatchHardMiner()})
    ml = losses.MultipleLosses({"a": losses.ContrastiveLoss()}, miners={"a": miners.BatchHardMiner()})
    x, y = next(_steps(1))
    with pytest.raises(ValueError, match="miners"):
        ml(x, y, (torch.tensor([0]), torch.tensor([1]), torch.tensor([2])))
    assert isinstance(ml.losses, torch.nn.ModuleDict) and isinstance(ml.miners, torch.nn.ModuleDict)


def test_self_supervised_and_vicreg_errors():
    x = torch.randn(6, 4)
    with pytest.raises(ValueError, match="shape of embeddings"):
        losses.SelfSupervisedLoss(losses.ContrastiveLoss())(x, x[:5])
    with pytest.raises(TypeError, match="does not support"):
        losses.SelfSupervisedLoss(losses.VICRegLoss())
    with pytest.raises(ValueError, match="labels"):
        losses.VICRegLoss()(x, torch.arange(6), ref_emb=x + 1)
    with pytest.raises(ValueError, match="needs ref_emb"):
        losses.VICRegLoss()(x)
    with pytest.raises(ValueError, match="distance"):
        losses.VICRegLoss(distance=None)
