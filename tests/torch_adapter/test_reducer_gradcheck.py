"""Gradients through every reducer (and tuples.logsumexp) on torch, float64.

- ``torch.autograd.gradcheck`` with respect to the losses, for every reducer and every
  reduction type (losses are kept away from the thresholds, where the reduction is not
  differentiable).
- The zero of an empty selection (losses == 0, empty arrays, nothing past a threshold,
  divisor 0) has a gradient of zeros, never None or NaN.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from agnostic_ml import reducers as R  # noqa: E402
from agnostic_ml import tuples  # noqa: E402

B = 7
A = torch.tensor([0, 0, 1, 3, 3, 3, 5, 6])
P = torch.tensor([1, 2, 4, 0, 9, 1, 8, 2])  # reference larger than the batch
N = torch.tensor([2, 5, 0, 4, 4, 11, 1, 0])
LABELS = torch.tensor([0, 1, 0, 2, 1, 2, 1])
LOSS_VALUES = torch.tensor([0.15, 0.7, 1.3, -0.4, 2.5, 0.25, 3.1, 0.9], dtype=torch.float64)

REDUCERS = {
    "mean": lambda: R.MeanReducer(),
    "sum": lambda: R.SumReducer(),
    "avg_non_zero": lambda: R.AvgNonZeroReducer(),
    "threshold": lambda: R.ThresholdReducer(low=0.5, high=3.0),
    "divisor": lambda: R.DivisorReducer(),
    "class_weighted": lambda: R.ClassWeightedReducer(torch.tensor([0.5, 2.0, 1.5], dtype=torch.float64)),
    "per_anchor": lambda: R.PerAnchorReducer(),
    "per_anchor_threshold": lambda: R.PerAnchorReducer(reducer=R.AvgNonZeroReducer()),
    "multiple": lambda: R.MultipleReducers({}, default_reducer=R.AvgNonZeroReducer()),
}
TYPES = ["element", "pos_pair", "neg_pair", "triplet", "already_reduced"]


def _indices(rtype):
    return {"element": A, "pos_pair": (A, P), "neg_pair": (A, N), "triplet": (A, P, N), "already_reduced": None}[rtype]


def _loss_dict(losses, rtype):
    return {"loss": {"losses": losses, "indices": _indices(rtype), "reduction_type": rtype, "divisor": 3.0}}


@pytest.mark.parametrize("rtype", TYPES)
@pytest.mark.parametrize("name", sorted(REDUCERS))
def test_gradcheck(name, rtype):
    emb = torch.randn(B, 3, dtype=torch.float64)
    reducer = REDUCERS[name]()

    def f(losses):
        x = losses.sum() if rtype == "already_reduced" else losses
        return reducer(_loss_dict(x, rtype), emb, LABELS)

    losses = LOSS_VALUES.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(f, (losses,), eps=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", sorted(REDUCERS))
def test_zero_loss_gradient_is_zero(name):
    for rtype in TYPES:
        emb = torch.randn(B, 3, dtype=torch.float64, requires_grad=True)
        out = REDUCERS[name]()({"l": {"losses": 0, "indices": None, "reduction_type": rtype, "divisor": 1}}, emb, LABELS)
        out.backward()
        assert emb.grad is not None and torch.equal(emb.grad, torch.zeros_like(emb))


@pytest.mark.parametrize("name", sorted(REDUCERS))
def test_empty_selection_gradient_is_zero(name):
    empty = torch.zeros(0, dtype=torch.int64)
    for rtype, idx in (("element", empty), ("pos_pair", (empty, empty)), ("triplet", (empty, empty, empty))):
        emb = torch.randn(B, 3, dtype=torch.float64, requires_grad=True)
        losses = torch.zeros(0, dtype=torch.float64, requires_grad=True)
        out = REDUCERS[name]()({"l": {"losses": losses * 1.0, "indices": idx, "reduction_type": rtype, "divisor": 1}}, emb, LABELS)
        assert out.item() == 0.0
        out.backward()
        for g in (emb.grad, losses.grad):
            assert g is None or (torch.all(g == 0) and not torch.isnan(g).any())
        assert emb.grad is not None or losses.grad is not None


def test_threshold_nothing_kept_gradient_is_zero():
    losses = LOSS_VALUES.clone().requires_grad_(True)
    out = R.ThresholdReducer(low=100.0)(_loss_dict(losses, "triplet"), torch.zeros(B, 3, dtype=torch.float64), LABELS)
    out.backward()
    assert out.item() == 0.0 and torch.equal(losses.grad, torch.zeros_like(losses))


def test_divisor_zero_gradient_is_zero():
    losses = LOSS_VALUES.clone().requires_grad_(True)
    emb = torch.zeros(B, 3, dtype=torch.float64, requires_grad=True)
    d = _loss_dict(losses, "pos_pair")
    d["loss"]["divisor"] = torch.tensor(0.0, dtype=torch.float64)
    out = R.DivisorReducer()(d, emb, LABELS)
    out.backward()
    assert out.item() == 0.0 and torch.equal(losses.grad, torch.zeros_like(losses))


def test_zero_loss_ignores_non_finite_embeddings():
    emb = torch.tensor([[np.inf, 1.0], [np.nan, 0.0]], dtype=torch.float64, requires_grad=True)
    out = R.MeanReducer()({"l": {"losses": 0, "indices": None, "reduction_type": "element"}}, emb, None)
    out.backward()
    assert out.item() == 0.0 and torch.equal(emb.grad, torch.zeros_like(emb))


@pytest.mark.parametrize("add_one", [True, False])
@pytest.mark.parametrize("dim", [0, 1])
def test_logsumexp_gradcheck(add_one, dim):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(5, 4, generator=g, dtype=torch.float64, requires_grad=True)
    keep = torch.rand(5, 4, generator=g) > 0.4
    keep[2, :] = False
    keep[:, 1] = False
    assert torch.autograd.gradcheck(lambda t: tuples.logsumexp(t, keep, add_one=add_one, dim=dim), (x,))
    tuples.logsumexp(x, keep, add_one=add_one, dim=dim).sum().backward()
    assert not torch.isnan(x.grad).any()
    assert torch.all(x.grad[~keep] == 0)
