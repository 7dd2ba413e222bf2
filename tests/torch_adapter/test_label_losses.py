"""Specifics of the label-based losses that the catalogue cannot express.

Memory bounds (all triplets never listed, no N^3 tensors), the PML bugs we fix (each
shown failing in PML and working here), state (DynamicSoftMarginLoss's histogram), random
triplets from an explicit ``rng``, the 0.9-era ``learnable_param_names`` of MarginLoss,
and the core losses on the strictest array-API backend.
"""

from __future__ import annotations

import copy
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pml_losses = pytest.importorskip("pytorch_metric_learning.losses")

import agnostic_ml.losses as core  # noqa: E402
from agnostic_ml._array_api import to_numpy  # noqa: E402
from agnostic_ml.tuples import get_all_triplets_indices  # noqa: E402
from agnostic_ml_torch import distances, losses, miners, reducers  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _batch(n=24, d=8, c=4, seed=0, dtype=torch.float64):
    rng = np.random.default_rng(seed)
    x = torch.tensor(rng.standard_normal((n, d)), dtype=dtype, requires_grad=True)
    y = torch.tensor(np.concatenate([np.arange(c), rng.integers(0, c, n - c)]))
    return x, y


def _run_limited(code: str, limit_mb: int) -> str:
    """Run ``code`` in a child process limited to ``limit_mb`` of address space; return stdout."""
    prog = f"import resource\nresource.setrlimit(resource.RLIMIT_AS, ({limit_mb} << 20, {limit_mb} << 20))\n" + textwrap.dedent(code)
    out = subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def _peak_rss_mb(code: str) -> float:
    """Peak resident memory (MB) of ``code`` run in a child process, above the child's start."""
    prog = (
        "import resource\nimport torch\ntorch.set_num_threads(1)\n"
        "base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        + textwrap.dedent(code)
        + "\nprint((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024)\n"
    )
    out = subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return float(out.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------------------
# MarginLoss
# ----------------------------------------------------------------------------------------
def test_margin_all_triplets_never_listed_in_memory():
    """N = 1024 in two classes has 268M triplets (6.4 GB as index arrays, and PML builds an
    N^3 cube); the default MarginLoss reduces them exactly in 1.5 GB of address space."""
    out = _run_limited(
        """
        import numpy as np
        from agnostic_ml.losses import MarginLoss
        rng = np.random.default_rng(0)
        x = rng.standard_normal((1024, 32))
        print(float(MarginLoss(learn_beta=True, nu=0.1, num_classes=2)(x, np.arange(1024) % 2)))
        """,
        1536,
    )
    assert np.isfinite(float(out.strip()))


@pytest.mark.parametrize("per_class", [False, True])
@pytest.mark.parametrize(
    "reducer",
    [None, reducers.MeanReducer(), reducers.SumReducer(), reducers.AvgNonZeroReducer(), reducers.ThresholdReducer(low=-1)],
    ids=["divisor", "mean", "sum", "avg_non_zero", "threshold_low_negative"],
)
def test_margin_streamed_equals_listed(reducer, per_class):
    """Without a miner the sums over all triplets are computed on the N x M matrix; they equal
    the loss over the listed triplets (forced with the full triplet tuple), gradients too."""
    x, y = _batch(40, 6, 5, seed=1)
    kw = dict(learn_beta=True, nu=0.1, num_classes=5) if per_class else {}
    loss = losses.MarginLoss(margin=0.15, reducer=copy.deepcopy(reducer), **kw).double()
    if per_class:
        with torch.no_grad():
            loss.beta.copy_(torch.linspace(0.8, 1.4, 5))
    streamed = loss(x, y)
    listed = loss(x, y, get_all_triplets_indices(y))
    params = list(loss.parameters())
    g1 = torch.autograd.grad(streamed, [x, *params])
    g2 = torch.autograd.grad(listed, [x, *params])
    assert torch.allclose(streamed, listed, rtol=1e-10)
    for a, b in zip(g1, g2):
        assert torch.allclose(a, b, rtol=1e-9, atol=1e-12)


def test_margin_threshold_with_high_lists_the_triplets():
    """ThresholdReducer(high=...) is not a sum of pair terms: the listed path gives PML's value."""
    x, y = _batch(20, 5, 3, seed=2)
    ours = losses.MarginLoss(reducer=reducers.ThresholdReducer(low=0.05, high=0.4))(x, y)
    from pytorch_metric_learning import reducers as pml_reducers

    theirs = pml_losses.MarginLoss(reducer=pml_reducers.ThresholdReducer(low=0.05, high=0.4))(x, y)
    assert torch.allclose(ours, theirs, rtol=1e-10)


def test_margin_random_triplets_follow_the_rng():
    """An int triplets_per_anchor draws from ``rng`` (PML: torch's global generator)."""
    x, y = _batch(30, 5, 4, seed=3)
    a = losses.MarginLoss(triplets_per_anchor=2, rng=5)(x, y)
    torch.manual_seed(123)  # torch's global state plays no part
    b = losses.MarginLoss(triplets_per_anchor=2, rng=5)(x, y)
    c = losses.MarginLoss(triplets_per_anchor=2, rng=6)(x, y)
    assert torch.equal(a, b) and not torch.equal(a, c)
    gen = np.random.default_rng(9)
    loss = losses.MarginLoss(triplets_per_anchor=1, rng=gen)
    assert not torch.equal(loss(x, y), loss(x, y))  # one generator, consumed call after call
    with pytest.raises(ValueError, match="triplets_per_anchor"):
        losses.MarginLoss(triplets_per_anchor=0)


def test_margin_per_class_beta_needs_labels_in_range():
    x, y = _batch()
    with pytest.raises(ValueError, match="labels must be in"):
        losses.MarginLoss(learn_beta=True, num_classes=3)(x, y)  # labels 0..3
    with pytest.raises(ValueError, match="num_classes"):
        losses.MarginLoss(num_classes=0)


def test_margin_fixed_beta_is_not_a_parameter():
    """As PML: without learn_beta, beta is a plain array (not in parameters() or state_dict);
    adopting a core MarginLoss into a module keeps it so."""
    loss = losses.MarginLoss(num_classes=3)
    assert list(loss.parameters()) == [] and "beta" not in loss.state_dict()
    assert tuple(loss.beta.shape) == (3,)
    from agnostic_ml_torch._shell import to_shell

    adopted = to_shell(core.MarginLoss())
    assert list(adopted.parameters()) == []
    learnable = to_shell(core.MarginLoss(learn_beta=True, num_classes=2))
    assert [n for n, _ in learnable.named_parameters()] == ["beta"]


def test_margin_legacy_learnable_param_names():
    """0.9's learnable_param_names=["beta"], num_class_per_param=C is learn_beta=True, num_classes=C."""
    x, y = _batch()
    with pytest.warns(FutureWarning, match="learnable_param_names"):
        old = losses.MarginLoss(nu=0.1, learnable_param_names=["beta"], num_class_per_param=4)
    new = losses.MarginLoss(nu=0.1, learn_beta=True, num_classes=4)
    assert old.learn_beta and isinstance(old.beta, torch.nn.Parameter) and tuple(old.beta.shape) == (4,)
    new.load_state_dict(old.state_dict())
    assert torch.allclose(old(x, y), new(x, y))
    with pytest.warns(FutureWarning):
        both = losses.MarginLoss(learnable_param_names=["beta", "margin"])
    assert sorted(n for n, _ in both.named_parameters()) == ["beta", "margin"]
    v = both(x, y)
    g = torch.autograd.grad(v, [both.margin, both.beta])
    assert all(torch.isfinite(t).all() for t in g) and float(g[0].abs()) > 0
    with pytest.warns(FutureWarning), pytest.raises(ValueError, match="num_class_per_param"):
        losses.MarginLoss(learnable_param_names=["beta", "margin"], num_class_per_param=4)


def test_margin_learnable_core_on_numpy_equals_torch():
    x, y = _batch(seed=4)
    shell = losses.MarginLoss(learn_beta=True, nu=0.1, num_classes=4).double()
    with torch.no_grad():
        shell.beta.copy_(torch.tensor([0.9, 1.0, 1.1, 1.3]))
    c = core.MarginLoss(learn_beta=True, nu=0.1, num_classes=4)
    c.beta = np.array([0.9, 1.0, 1.1, 1.3], dtype=np.float32)
    assert float(c(x.detach().numpy(), y.numpy())) == pytest.approx(float(shell(x, y)), rel=1e-7)


# ----------------------------------------------------------------------------------------
# HistogramLoss
# ----------------------------------------------------------------------------------------
def test_histogram_identical_embeddings_finite_where_pml_crashes():
    """Similarity exactly 1 (two identical embeddings) indexes past PML's density."""
    x, y = _batch(12, 5, 3, seed=5, dtype=torch.float32)
    x = x.detach().clone()
    x[1] = x[0]
    y = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 2, 0, 1, 2])
    with pytest.raises((IndexError, RuntimeError)):
        pml_losses.HistogramLoss()(x, y)
    x.requires_grad_(True)
    v = losses.HistogramLoss()(x, y)
    (g,) = torch.autograd.grad(v, x)
    assert torch.isfinite(v) and torch.isfinite(g).all()


def test_histogram_float64_finite_where_pml_crashes():
    """In float64, a similarity that rounds to 1 in float32 (PML bins in float32) crashes PML."""
    x, y = _batch(12, 5, 3, seed=6)
    x = x.detach().clone()
    x[1] = x[0] + 1e-9
    y = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 2, 0, 1, 2])
    with pytest.raises((IndexError, RuntimeError)):
        pml_losses.HistogramLoss()(x, y)
    x.requires_grad_(True)
    v = losses.HistogramLoss()(x, y)
    (g,) = torch.autograd.grad(v, x)
    assert torch.isfinite(v) and torch.isfinite(g).all()


@pytest.mark.parametrize("n_bins", [100, 25])
def test_histogram_float32_equals_pml(n_bins):
    """Where PML runs (float32, no duplicates) the values and gradients agree."""
    x, y = _batch(30, 6, 4, seed=7, dtype=torch.float32)
    a = losses.HistogramLoss(n_bins=n_bins)(x, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # PML's list indexing
        b = pml_losses.HistogramLoss(n_bins=n_bins)(x, y)
    (ga,) = torch.autograd.grad(a, x)
    (gb,) = torch.autograd.grad(b, x)
    assert torch.allclose(a, b, rtol=1e-5, atol=1e-7)
    assert torch.allclose(ga, gb, rtol=1e-3, atol=1e-6)


def test_histogram_arguments():
    assert losses.HistogramLoss().delta == pytest.approx(0.02)
    assert losses.HistogramLoss(delta=0.1).delta == 0.1
    with pytest.raises(ValueError, match="delta = 2 / n_bins"):
        losses.HistogramLoss(n_bins=10, delta=0.3)
    with pytest.raises(ValueError, match="ref_emb is not supported"):
        x, y = _batch()
        losses.HistogramLoss()(x, y, None, x.detach(), y)


# ----------------------------------------------------------------------------------------
# PNPLoss and SmoothAPLoss: no N^3 tensors
# ----------------------------------------------------------------------------------------
def test_ranking_losses_memory_is_quadratic():
    """N = 512: PML's PNPLoss and SmoothAPLoss build N^3 tensors of 0.5 GB each in float32
    (several of them, kept for the backward). Ours, forward and backward of both in one
    child process, stay within 150 MB above the process start."""
    peak = _peak_rss_mb(
        """
        from agnostic_ml_torch import losses
        g = torch.Generator().manual_seed(0)
        for loss in (losses.PNPLoss(), losses.SmoothAPLoss()):
            x = torch.randn(512, 32, generator=g, requires_grad=True)
            loss(x, torch.arange(512) // 32).backward()
            assert torch.isfinite(x.grad).all()
        """
    )
    assert peak < 150, f"peak {peak:.0f} MB"


def test_pnp_variant_and_inputs():
    with pytest.raises(ValueError, match="variant"):
        losses.PNPLoss(variant="X")
    x, y = _batch()
    with pytest.raises(ValueError, match="indices_tuple is not supported"):
        losses.PNPLoss()(x, y, (torch.tensor([0]), torch.tensor([1]), torch.tensor([2])))
    with pytest.raises(ValueError, match="requires the distance"):
        losses.PNPLoss(distance=distances.LpDistance())


def test_pnp_no_positive_gives_zero():
    x, _ = _batch()
    v = losses.PNPLoss()(x, torch.arange(x.shape[0]))
    (g,) = torch.autograd.grad(v, x, allow_unused=True)
    assert float(v) == 0.0 and (g is None or float(g.abs().max()) == 0.0)


def _smooth_ap_reference(x, y, temperature):
    """Brute-force Smooth-AP with each query's positives = the rows of its label (itself included)."""
    s = torch.nn.functional.normalize(x, dim=1) @ torch.nn.functional.normalize(x, dim=1).T
    n = len(y)
    out = []
    for q in range(n):
        pos = [l for l in range(n) if y[l] == y[q]]
        ap = 0
        for l in pos:
            r_all = 1 + sum(torch.sigmoid((s[q, k] - s[q, l]) / temperature) for k in range(n) if k != l)
            r_pos = 1 + sum(torch.sigmoid((s[q, k] - s[q, l]) / temperature) for k in pos if k != l)
            ap = ap + r_pos / r_all
        out.append(1 - ap / len(pos))
    return torch.stack(out).mean()


@pytest.mark.parametrize("labels", [[0, 0, 1, 1, 2, 2], [2, 0, 1, 0, 1, 2], [0, 0, 0, 1, 1, 1]])
def test_smooth_ap_positives_are_the_label_where_pml_groups_wrongly(labels):
    """PML groups consecutive rows by the wrong count unless there are as many classes as
    rows per class in sorted blocks; ours follows the labels in any order."""
    x, _ = _batch(len(labels), 4, seed=8)
    y = torch.tensor(labels)
    ours = losses.SmoothAPLoss(temperature=0.1)(x, y)
    ref = _smooth_ap_reference(x, y, 0.1)
    (g1,) = torch.autograd.grad(ours, x)
    (g2,) = torch.autograd.grad(ref, x)
    assert torch.allclose(ours, ref, rtol=1e-10) and torch.allclose(g1, g2, rtol=1e-8, atol=1e-12)
    assert not torch.allclose(pml_losses.SmoothAPLoss(temperature=0.1)(x, y).double(), ref, rtol=1e-3)


def test_smooth_ap_needs_equal_class_sizes():
    x, _ = _batch(7)
    with pytest.raises(ValueError, match=r"class sizes \[3, 4\]"):
        losses.SmoothAPLoss()(x, torch.tensor([0, 0, 0, 1, 1, 1, 1]))
    with pytest.raises(ValueError, match="ref_emb is not supported"):
        losses.SmoothAPLoss()(x, torch.zeros(7, dtype=torch.int64), None, x.detach(), torch.zeros(7))


# ----------------------------------------------------------------------------------------
# ThresholdConsistentMarginLoss with a reference set
# ----------------------------------------------------------------------------------------
def test_tcm_with_ref_emb_uses_reference_rows():
    """PML reads positives/negatives from embeddings with reference indices (IndexError when
    the reference set is larger); ours reads them from ref_emb."""
    rng = np.random.default_rng(9)
    x = torch.tensor(rng.standard_normal((6, 3)), requires_grad=True)
    r = torch.tensor(rng.standard_normal((10, 3)), requires_grad=True)
    y = torch.tensor([0, 1, 0, 1, 2, 2])
    ry = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2, 0])
    v = losses.ThresholdConsistentMarginLoss(margin_plus=0.6, margin_minus=0.2)(x, y, None, r, ry)
    s = torch.nn.functional.normalize(x, dim=1) @ torch.nn.functional.normalize(r, dim=1).T
    same = y[:, None] == ry[None, :]
    pos, neg = s[same], s[~same]
    pos_part = torch.where(pos <= 0.6, 0.6 - pos, 0).sum() / (pos <= 0.6).sum()
    neg_part = torch.where(neg >= 0.2, neg - 0.2, 0).sum() / (neg >= 0.2).sum()
    assert torch.allclose(v, pos_part + neg_part)
    gx, gr = torch.autograd.grad(v, (x, r))
    assert float(gr.abs().sum()) > 0
    with pytest.raises(IndexError):
        pml_losses.ThresholdConsistentMarginLoss(margin_plus=0.6, margin_minus=0.2)(x, y, None, r, ry)


# ----------------------------------------------------------------------------------------
# DynamicSoftMarginLoss: state and the PML bugs
# ----------------------------------------------------------------------------------------
def test_dynamic_soft_margin_trains_over_several_steps():
    """PML keeps the histogram with its graph: the second step's backward raises. Ours detaches it."""
    x, y = _batch(16, 5, 4, seed=10)
    theirs = pml_losses.DynamicSoftMarginLoss()
    theirs(x, y).backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        theirs(x, y).backward()
    ours = losses.DynamicSoftMarginLoss()
    for _ in range(3):
        x.grad = None
        ours(x, y).backward()
        assert torch.isfinite(x.grad).all()
    assert not ours.hist_.requires_grad


def test_dynamic_soft_margin_first_call_equals_pml_then_momentum():
    x, y = _batch(16, 5, 4, seed=11)
    ours, theirs = losses.DynamicSoftMarginLoss(momentum=0.2), pml_losses.DynamicSoftMarginLoss(momentum=0.2)
    x2, _ = _batch(16, 5, 4, seed=12)
    with torch.no_grad():
        assert torch.allclose(ours(x, y), theirs(x, y))
        assert torch.allclose(ours(x2, y), theirs(x2, y))  # the running histogram with momentum
        assert torch.allclose(ours.hist_, theirs.hist_)


def test_dynamic_soft_margin_histogram_is_saved_and_restored():
    x, y = _batch(16, 5, 4, seed=13)
    a = losses.DynamicSoftMarginLoss(momentum=0.3)
    assert "hist_" not in a.state_dict()  # nothing seen yet
    a(x, y)
    state = a.state_dict()
    assert torch.equal(state["hist_"], a.hist_)
    b = losses.DynamicSoftMarginLoss(momentum=0.3)
    b.load_state_dict(state)
    x2, _ = _batch(16, 5, 4, seed=14)
    assert torch.equal(a(x2, y), b(x2, y)) and torch.equal(a.hist_, b.hist_)
    pml_state = pml_losses.DynamicSoftMarginLoss().state_dict()  # PML saves no histogram
    c = losses.DynamicSoftMarginLoss()
    c.load_state_dict(pml_state)
    assert c.hist_ is None
    a.reset_histogram()
    assert a.hist_ is None and "hist_" not in a.state_dict()


def test_dynamic_soft_margin_large_margins_do_not_index_past_the_histogram():
    """d_pos - d_neg >= 1.6 (with the defaults) indexes past PML's 10 bins."""
    x = torch.tensor([[1.0, 0.0], [1.0, 0.01], [-1.0, 0.0]], dtype=torch.float64)
    r = torch.tensor([[-1.0, 0.0], [-1.0, 0.01], [1.0, 0.0]], dtype=torch.float64, requires_grad=True)
    with pytest.raises((IndexError, RuntimeError)):
        pml_losses.DynamicSoftMarginLoss()(x, None, None, r)
    v = losses.DynamicSoftMarginLoss()(x, None, None, r)
    (g,) = torch.autograd.grad(v, r)
    assert torch.isfinite(v) and torch.isfinite(g).all()


@pytest.mark.parametrize("m", [16, 11, 20])
def test_dynamic_soft_margin_without_labels(m):
    """Descriptor mode (row i matches ref row i): PML's values; PML cannot backpropagate it
    (an in-place fill of the distance matrix autograd saved), ours can (gradcheck)."""
    x, _ = _batch(16, 5, seed=15)
    r, _ = _batch(m, 5, seed=16)
    assert torch.allclose(losses.DynamicSoftMarginLoss()(x, None, None, r), pml_losses.DynamicSoftMarginLoss()(x, None, None, r))
    with pytest.raises(RuntimeError, match="inplace"):
        pml_losses.DynamicSoftMarginLoss()(x, None, None, r).backward()
    loss = losses.DynamicSoftMarginLoss()
    f = lambda a, b: copy.deepcopy(loss)(a, None, None, b)  # noqa: E731 - same state each call
    assert torch.autograd.gradcheck(f, (x.detach()[:6].requires_grad_(), r.detach()[:7].requires_grad_()), eps=1e-6, atol=1e-5)


# ----------------------------------------------------------------------------------------
# NCA, NPairs, Instance, FastAP details
# ----------------------------------------------------------------------------------------
def test_nca_log_space_keeps_underflowing_rows():
    """softmax_scale large enough that a same-label probability underflows in float32: PML
    drops the row (its loss would be inf), ours gives the finite float64 value."""
    x = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.5, 0.0]], dtype=torch.float32, requires_grad=True)
    y = torch.tensor([0, 0, 1])
    loss = losses.NCALoss(softmax_scale=10, distance=distances.LpDistance(normalize_embeddings=False, power=2))
    v32 = loss(x, y)
    v64 = loss(x.double(), y)
    assert torch.isfinite(v32) and float(v32) == pytest.approx(float(v64), rel=1e-5)
    from pytorch_metric_learning import distances as pml_distances

    pml = pml_losses.NCALoss(softmax_scale=10, distance=pml_distances.LpDistance(normalize_embeddings=False, power=2))
    assert float(pml(x, y)) < 0.5 * float(v32)  # PML averaged over the two rows it kept


def test_n_pairs_records_num_pairs_and_picks_one_pair_per_class():
    x, y = _batch(seed=17)
    loss = losses.NPairsLoss(collect_stats=True)
    loss(x, y)
    assert loss.num_pairs == 4
    from pytorch_metric_learning.utils import loss_and_miner_utils as lmu

    a, p = core.pos_pairs_with_unique_labels(None, y, like=x)
    ea, ep = lmu.convert_to_pos_pairs_with_unique_labels(None, y)
    assert torch.equal(a, ea) and torch.equal(p, ep)


def test_instance_loss_label_ranks_match_pml():
    x, _ = _batch(6, 4, seed=18)
    y = torch.tensor([10, 3, 10, 7, 3, 5])
    assert torch.allclose(losses.InstanceLoss(gamma=8)(x, y), pml_losses.InstanceLoss(gamma=8)(x, y))
    assert core.label_ranks(y).tolist() == torch.unique(y, return_inverse=True)[1].tolist()


def test_fast_ap_requires_normalized_euclidean():
    with pytest.raises(ValueError, match="normalize_embeddings"):
        losses.FastAPLoss(distance=distances.LpDistance(normalize_embeddings=False))
    with pytest.raises(ValueError, match="LpDistance"):
        losses.FastAPLoss(distance=distances.CosineSimilarity())


def test_ranked_list_arguments():
    with pytest.raises(ValueError, match="imbalance"):
        losses.RankedListLoss(margin=0.4, Tn=1, imbalance=2)
    with pytest.warns(UserWarning, match="too high"):
        losses.RankedListLoss(margin=0.4, Tn=6)
    assert losses.RankedListLoss(margin=0.4, Tn=1).alpha == pytest.approx(1.2)


# ----------------------------------------------------------------------------------------
# every core loss on the strictest array-API backend
# ----------------------------------------------------------------------------------------
CORE_CASES = {
    "margin": lambda: core.MarginLoss(),
    "margin_per_class": lambda: core.MarginLoss(learn_beta=True, nu=0.1, num_classes=4),
    "nca": lambda: core.NCALoss(),
    "fast_ap": lambda: core.FastAPLoss(),
    "histogram": lambda: core.HistogramLoss(),
    "pnp": lambda: core.PNPLoss(variant="Ds", anneal=0.1),
    "ranked_list": lambda: core.RankedListLoss(margin=0.4, Tn=1),
    "dynamic_soft_margin": lambda: core.DynamicSoftMarginLoss(),
    "tcm": lambda: core.ThresholdConsistentMarginLoss(),
    "instance": lambda: core.InstanceLoss(gamma=8),
    "n_pairs": lambda: core.NPairsLoss(),
    "smooth_ap": lambda: core.SmoothAPLoss(temperature=0.1),
}


@pytest.mark.parametrize("name", sorted(CORE_CASES))
def test_core_loss_on_strictest_backend(name):
    """No data-dependent shapes, no boolean indexing, a non-default device: the same value as NumPy."""
    from agnostic_ml.testing.backends import load_backend as make_backend

    rng = np.random.default_rng(19)
    x = rng.standard_normal((16, 5))
    y = np.repeat(np.arange(4), 4) if name == "smooth_ap" else np.concatenate([np.arange(4), rng.integers(0, 4, 12)])
    expected = float(CORE_CASES[name]()(x, y))
    b = make_backend("array_api_strict_strictest")
    with b.context():
        got = CORE_CASES[name]()(b.asarray(x, b.xp.float64), b.asarray(y))
        assert str(got.device) == str(b.device)
        assert float(to_numpy(got)) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_miner_output_is_accepted_with_reference_set():
    """MarginLoss and NCALoss with a miner's pairs on a separate reference set, as PML."""
    x, y = _batch(seed=20)
    r, ry = _batch(18, seed=21)
    tup = miners.MultiSimilarityMiner(epsilon=0.2)(x, y, r, ry)
    for ours, theirs in ((losses.MarginLoss(), pml_losses.MarginLoss()), (losses.NCALoss(), pml_losses.NCALoss())):
        assert torch.allclose(ours(x, y, tup, r, ry), theirs(x, y, tup, r, ry), rtol=1e-10)
