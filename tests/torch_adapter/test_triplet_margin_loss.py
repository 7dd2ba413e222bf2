"""TripletMarginLoss specifics: all triplets without listing them, swap with a reference set."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pml_losses = pytest.importorskip("pytorch_metric_learning.losses")

from agnostic_ml_torch import losses, miners, reducers  # noqa: E402


def test_all_triplets_never_listed_in_memory():
    """N = 1024 in two classes has 268M triplets (6.4 GB as index arrays); the default
    TripletMarginLoss reduces them in a process limited to 1.5 GB of address space."""
    code = textwrap.dedent(
        """
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (1536 << 20, 1536 << 20))
        import numpy as np
        from agnostic_ml.losses import TripletMarginLoss
        rng = np.random.default_rng(0)
        x = rng.standard_normal((1024, 32))
        y = np.arange(1024) % 2
        print(float(TripletMarginLoss(margin=0.2)(x, y)))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert np.isfinite(float(out.stdout.strip()))


def test_streamed_and_listed_paths_agree():
    """The streamed reduction equals the listed one (forced through a miner's full tuple)."""
    rng = np.random.default_rng(1)
    x = torch.tensor(rng.standard_normal((40, 6)), requires_grad=True)
    y = torch.tensor(rng.integers(0, 5, 40))
    from agnostic_ml.tuples import get_all_triplets_indices

    for red in (reducers.AvgNonZeroReducer(), reducers.MeanReducer(), reducers.SumReducer(), reducers.ThresholdReducer(low=0.05, high=0.3)):
        loss = losses.TripletMarginLoss(margin=0.25, reducer=red)
        streamed = loss(x, y)
        listed = loss(x, y, get_all_triplets_indices(y))
        g1, = torch.autograd.grad(streamed, x)
        g2, = torch.autograd.grad(listed, x)
        assert torch.allclose(streamed, listed, rtol=1e-10)
        assert torch.allclose(g1, g2, rtol=1e-9, atol=1e-12)


def test_reducer_with_stats_takes_the_listed_path():
    x = torch.randn(16, 4, dtype=torch.float64)
    y = torch.arange(16) % 3
    loss = losses.TripletMarginLoss(reducer=reducers.AvgNonZeroReducer(collect_stats=True))
    loss(x, y)
    assert "num_past_filter" in loss.reducer.stats  # the loss holds a deep copy, as in PML


def test_swap_with_reference_set_uses_reference_rows():
    """PML#748: swap=True with ref_emb indexes the wrong matrix in PML; ours uses d(ref_p, ref_n)."""
    rng = np.random.default_rng(2)
    x = torch.tensor(rng.standard_normal((6, 3)))
    r = torch.tensor(rng.standard_normal((9, 3)))
    y = torch.tensor([0, 1, 0, 1, 2, 2])
    ry = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2])
    loss = losses.TripletMarginLoss(margin=0.5, swap=True, reducer=reducers.DoNothingReducer())
    out = loss(x, y, None, r, ry)["loss"]
    a, p, n = out["indices"]
    xn = torch.nn.functional.normalize(x)
    rn = torch.nn.functional.normalize(r)
    ap = (xn[a] - rn[p]).norm(dim=1)
    an = torch.minimum((xn[a] - rn[n]).norm(dim=1), (rn[p] - rn[n]).norm(dim=1))
    assert torch.allclose(out["losses"], torch.relu(ap - an + 0.5), atol=1e-6)
    with pytest.raises(IndexError):
        pml_losses.TripletMarginLoss(margin=0.5, swap=True)(x, y, None, r, ry)


def test_random_triplets_follow_the_rng():
    x = torch.randn(20, 4, dtype=torch.float64)
    y = torch.arange(20) % 4
    a = losses.TripletMarginLoss(triplets_per_anchor=3, rng=7)(x, y)
    b = losses.TripletMarginLoss(triplets_per_anchor=3, rng=7)(x, y)
    assert torch.equal(a, b)
    with pytest.raises(ValueError, match="triplets_per_anchor"):
        losses.TripletMarginLoss(triplets_per_anchor=0)


def test_with_miner_pairs_converted_as_pml():
    x = torch.randn(30, 5, dtype=torch.float64, requires_grad=True)
    y = torch.arange(30) % 3
    pairs = miners.MultiSimilarityMiner(epsilon=0.2)(x, y)
    ours = losses.TripletMarginLoss(margin=0.1)(x, y, pairs)
    theirs = pml_losses.TripletMarginLoss(margin=0.1)(x, y, pairs)
    assert torch.allclose(ours, theirs, rtol=1e-10)
