"""The torch adapter: PML's import paths, tensors in and out, autograd preserved."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import agnostic_ml_torch  # noqa: E402
from agnostic_ml_torch import distances, miners, reducers  # noqa: E402


def test_pml_names_are_served():
    pml = pytest.importorskip("pytorch_metric_learning")
    from pytorch_metric_learning import distances as pd
    from pytorch_metric_learning import miners as pm
    from pytorch_metric_learning import reducers as pr

    for ours, theirs in ((distances, pd), (miners, pm), (reducers, pr)):
        theirs_names = {n for n in dir(theirs) if n[:1].isupper()}
        missing = sorted(theirs_names - set(ours.__all__))
        assert not missing, f"{ours.__name__} lacks PML names {missing}"
    assert pml is not None


def test_distance_keeps_graph_and_device():
    x = torch.randn(6, 4, dtype=torch.float64, requires_grad=True)
    d = distances.LpDistance()(x)
    assert isinstance(d, torch.Tensor) and d.device == x.device and d.dtype == x.dtype
    d.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_miner_output_is_tensor_without_grad():
    x = torch.randn(12, 5, requires_grad=True)
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 0, 1, 2, 0, 1, 2])
    a, p, n = miners.BatchHardMiner()(x, labels)
    for t in (a, p, n):
        assert isinstance(t, torch.Tensor) and t.dtype == torch.int64 and not t.requires_grad
    # The mined indices feed a torch loss whose gradient reaches the embeddings.
    d = distances.LpDistance()(x)
    loss = torch.relu(d[a, p] - d[a, n] + 0.1).mean()
    loss.backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_reducer_on_torch_loss_dict():
    losses = torch.tensor([0.0, 1.0, 3.0], requires_grad=True)
    idx = torch.arange(3)
    out = reducers.AvgNonZeroReducer()(
        {"loss": {"losses": losses, "indices": idx, "reduction_type": "element"}},
        torch.zeros(3, 2),
        torch.tensor([0, 1, 2]),
    )
    assert float(out.detach()) == pytest.approx(2.0)
    out.backward()
    np.testing.assert_allclose(losses.grad.numpy(), [0.0, 0.5, 0.5])
