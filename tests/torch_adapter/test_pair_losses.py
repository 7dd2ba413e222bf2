"""Pair-loss family specifics: memory bounds, multiplicities, PML's hooks, required distances,
half precision, and the PML bugs fixed here (AngularLoss's raw negatives, TupletMargin's acos NaN)."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pml_losses = pytest.importorskip("pytorch_metric_learning.losses")
pml_distances = pytest.importorskip("pytorch_metric_learning.distances")

from agnostic_ml_torch import distances, losses, reducers  # noqa: E402

from loss_helpers import assert_close, grads  # noqa: E402  (imports the catalogue first)
from catalogue_pair import UnitInputs  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

#: The three losses for which PML builds a (positive pairs x negative pairs) matrix.
PXN_LOSSES = ["NTXentLoss", "LiftedStructureLoss", "TupletMarginLoss"]


def _run(code: str, timeout: int = 300) -> str:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


# --------------------------------------------------------------------------------------
# memory: batch 1200 with 10 classes
# --------------------------------------------------------------------------------------
def test_batch_1200_fits_in_2gb_on_numpy():
    """Batch 1200 in 10 classes has 142,800 positive and 1,296,000 negative pairs: PML's
    NTXent/Lifted/Tuplet matrix has 1.9e11 entries (740 GB in float32). The NumPy core
    computes all three (and AngularLoss) in float64 in a process limited to 2 GB of address space."""
    out = _run(
        """
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
        import numpy as np
        from agnostic_ml import losses
        rng = np.random.default_rng(0)
        x = rng.standard_normal((1200, 64))
        y = np.arange(1200) % 10
        for name in ["NTXentLoss", "LiftedStructureLoss", "TupletMarginLoss", "AngularLoss"]:
            print(name, float(getattr(losses, name)()(x, y)))
        """
    )
    values = dict(line.split() for line in out.strip().splitlines())
    assert len(values) == 4 and all(np.isfinite(float(v)) and float(v) > 0 for v in values.values())


def test_batch_1200_forward_backward_peak_rss_on_torch():
    """The torch path (float32, forward + backward) at batch 1200 with 10 classes: the peak
    resident memory grows by well under the 2 GB goal (measured ~0.1 GB per loss)."""
    out = _run(
        """
        import resource
        import torch
        from agnostic_ml_torch import losses
        torch.manual_seed(0)
        torch.set_num_threads(1)
        x = torch.randn(1200, 64, requires_grad=True)
        y = torch.arange(1200) % 10
        names = ["NTXentLoss", "LiftedStructureLoss", "TupletMarginLoss", "AngularLoss"]
        for name in names:  # warm up (allocator, lazy imports) on a small batch
            getattr(losses, name)()(x[:40], y[:40]).backward()
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        for name in names:
            v = getattr(losses, name)()(x, y)
            v.backward()
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            print(name, float(v.detach()), (peak - base) / 2**20, bool(torch.isfinite(x.grad).all()))
            x.grad = None
        """
    )
    for line in out.strip().splitlines():
        name, value, gib, finite = line.split()
        assert np.isfinite(float(value)) and finite == "True", line
        assert float(gib) < 1.0, f"{name}: peak RSS grew by {float(gib):.2f} GiB"


# --------------------------------------------------------------------------------------
# multiplicities: a pair mined twice counts as PML counts it
# --------------------------------------------------------------------------------------
def _batch(seed=0, n=10, d=5, classes=3):
    rng = np.random.default_rng(seed)
    x = torch.tensor(rng.standard_normal((n, d)), requires_grad=True)
    y = torch.tensor(np.arange(n) % classes)
    return x, y


def _duplicated_pairs():
    # pairs of the labels arange(10) % 3: positives (0,3) twice, (3,0), (1,4), (4,7) three times,
    # self-consistent anchors with negatives (0,1) twice, (0,2), (3,5), (1,2) twice, (4,0), (9,8)
    a1 = torch.tensor([0, 0, 3, 1, 4, 4, 4])
    p = torch.tensor([3, 3, 0, 4, 7, 7, 7])
    a2 = torch.tensor([0, 0, 0, 3, 1, 1, 4, 9])
    n = torch.tensor([1, 1, 2, 5, 2, 2, 0, 8])
    return a1, p, a2, n


DUP_CASES = {
    "ntxent": (lambda: losses.NTXentLoss(temperature=0.3), lambda: pml_losses.NTXentLoss(temperature=0.3)),
    "lifted": (lambda: losses.LiftedStructureLoss(), lambda: pml_losses.LiftedStructureLoss()),
    "tuplet": (lambda: losses.TupletMarginLoss(scale=16), lambda: pml_losses.TupletMarginLoss(scale=16)),
    "intra_pair_variance": (lambda: losses.IntraPairVarianceLoss(), lambda: pml_losses.IntraPairVarianceLoss()),
    "snr": (lambda: losses.SignalToNoiseRatioContrastiveLoss(), lambda: pml_losses.SignalToNoiseRatioContrastiveLoss()),
    "angular": (lambda: losses.AngularLoss(), lambda: UnitInputs(pml_losses.AngularLoss())),
    "circle": (lambda: losses.CircleLoss(gamma=8), lambda: pml_losses.CircleLoss(gamma=8)),
    "multi_similarity": (lambda: losses.MultiSimilarityLoss(), lambda: pml_losses.MultiSimilarityLoss()),
    "supcon": (lambda: losses.SupConLoss(), lambda: pml_losses.SupConLoss()),
    "generalized_lifted": (lambda: losses.GeneralizedLiftedStructureLoss(), lambda: pml_losses.GeneralizedLiftedStructureLoss()),
}


@pytest.mark.parametrize("name", sorted(DUP_CASES))
def test_duplicate_pairs_count_as_in_pml(name):
    """Pair-based losses count a mined pair as often as it is listed; mat-based ones once (PML's masks)."""
    ours, theirs = (f().double() for f in DUP_CASES[name])
    x, y = _batch()
    tup = _duplicated_pairs()
    v_ours, v_pml = ours(x, y, tup), theirs(x, y, tup)
    assert_close(v_ours, v_pml, 1e-6, f"{name} value")
    assert_close(grads(v_ours, x)[0], grads(v_pml, x)[0], 1e-6, f"{name} gradient")


@pytest.mark.parametrize("name", ["ntxent", "lifted", "tuplet"])
def test_duplicates_change_the_value(name):
    """Guard of the test above: listing the negatives twice does change these losses."""
    ours = DUP_CASES[name][0]().double()
    x, y = _batch()
    a1, p, a2, n = _duplicated_pairs()
    once = ours(x, y, (a1, p, a2[[0, 2, 3, 4, 6, 7]], n[[0, 2, 3, 4, 6, 7]]))
    twice = ours(x, y, (a1, p, a2, n))
    assert abs(float(once.detach()) - float(twice.detach())) > 1e-6


# --------------------------------------------------------------------------------------
# PML's hooks: user subclasses keep working
# --------------------------------------------------------------------------------------
def _halving_subclass(base):
    class Halved(base):
        def _compute_loss(self, pos_pairs, neg_pairs, indices_tuple):
            return super()._compute_loss(pos_pairs * 0.5, neg_pairs, indices_tuple)

    return Halved


@pytest.mark.parametrize(
    "name, kwargs", [("NTXentLoss", {"temperature": 0.2}), ("LiftedStructureLoss", {}), ("TupletMarginLoss", {"scale": 8})]
)
@pytest.mark.parametrize("mined", [False, True])
def test_pair_hook_override_is_called_like_pml(name, kwargs, mined):
    """A subclass overriding ``_compute_loss(pos_pairs, neg_pairs, indices_tuple)`` takes PML's
    path (the pair values, grouped per anchor) and gives PML's value and gradient."""
    ours = _halving_subclass(getattr(losses, name))(**kwargs).double()
    theirs = _halving_subclass(getattr(pml_losses, name))(**kwargs).double()
    x, y = _batch(1, n=16)
    tup = _duplicated_pairs() if mined else None
    v_ours, v_pml = ours(x, y, tup), theirs(x, y, tup)
    assert_close(v_ours, v_pml, 1e-9, f"{name} value")
    assert_close(grads(v_ours, x)[0], grads(v_pml, x)[0], 1e-9, f"{name} gradient")
    plain = getattr(losses, name)(**kwargs).double()
    assert abs(float(plain(x, y, tup).detach()) - float(v_ours.detach())) > 1e-6  # the override took effect


@pytest.mark.parametrize("name", PXN_LOSSES)
def test_pair_values_path_equals_matrix_path(name):
    """The two equivalent reductions (from the pair values, and from the N x M matrix) agree."""
    from agnostic_ml.tuples import get_all_pairs_indices

    x, y = _batch(2, n=30, classes=4)
    loss = getattr(losses, name)().double()
    a1, p, a2, n = get_all_pairs_indices(y)
    mat = loss.distance(x)
    from agnostic_ml.losses._math import gather_pairs

    by_matrix = loss.pair_based_loss(mat, (a1, p, a2, n))["loss"]["losses"]
    by_pairs = loss._compute_loss(gather_pairs(mat, a1, p), gather_pairs(mat, a2, n), (a1, p, a2, n))["loss"]["losses"]
    assert torch.allclose(by_matrix, by_pairs, rtol=1e-10, atol=1e-12)
    g1 = torch.autograd.grad(by_matrix.sum(), x, retain_graph=True)[0]
    g2 = torch.autograd.grad(by_pairs.sum(), x)[0]
    assert torch.allclose(g1, g2, rtol=1e-9, atol=1e-12)


def test_mat_hook_override_supcon_and_variance_hook():
    """SupCon's ``_compute_loss(mat, pos_mask, neg_mask)`` and IntraPairVariance's
    ``variance_with_eps`` are PML's hooks: overriding them works as in PML."""

    def supcon_sub(base):
        class Sub(base):
            def _compute_loss(self, mat, pos_mask, neg_mask):
                return super()._compute_loss(mat * 2, pos_mask, neg_mask)

        return Sub

    def ipv_sub(base):
        class Sub(base):
            def variance_with_eps(self, pairs, mean_sim, eps, incentivize_increase):
                return 2 * super().variance_with_eps(pairs, mean_sim, eps, incentivize_increase)

        return Sub

    x, y = _batch(3, n=14)
    for make in (supcon_sub, ipv_sub):
        base = "SupConLoss" if make is supcon_sub else "IntraPairVarianceLoss"
        ours, theirs = make(getattr(losses, base))().double(), make(getattr(pml_losses, base))().double()
        v_ours, v_pml = ours(x, y), theirs(x, y)
        assert_close(v_ours, v_pml, 1e-9, f"{base} value")
        assert_close(grads(v_ours, x)[0], grads(v_pml, x)[0], 1e-9, f"{base} gradient")


# --------------------------------------------------------------------------------------
# required distances (PML asserts; we raise ValueError)
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: losses.SignalToNoiseRatioContrastiveLoss(distance=distances.LpDistance()), "SNRDistance"),
        (lambda: losses.CircleLoss(distance=distances.LpDistance()), "CosineSimilarity"),
        (lambda: losses.CircleLoss(distance=distances.DotProductSimilarity()), "CosineSimilarity"),
        (lambda: losses.TupletMarginLoss(distance=distances.LpDistance()), "CosineSimilarity"),
        (lambda: losses.AngularLoss(distance=distances.CosineSimilarity()), "LpDistance"),
        (lambda: losses.AngularLoss(distance=distances.LpDistance(p=1)), r"distance\.p == 2"),
        (lambda: losses.AngularLoss(distance=distances.LpDistance(power=2)), r"distance\.power == 1"),
        (lambda: losses.AngularLoss(distance=distances.LpDistance(normalize_embeddings=False)), "normalize_embeddings"),
    ],
)
def test_required_distance(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_required_distance_defaults_and_pml_agree():
    assert type(losses.SignalToNoiseRatioContrastiveLoss().distance).__name__ == "SNRDistance"
    for name in ("CircleLoss", "TupletMarginLoss", "NTXentLoss", "SupConLoss", "MultiSimilarityLoss", "IntraPairVarianceLoss"):
        assert type(getattr(losses, name)().distance).__name__ == "CosineSimilarity", name
    for name in ("AngularLoss", "LiftedStructureLoss", "GeneralizedLiftedStructureLoss"):
        assert type(getattr(losses, name)().distance).__name__ == "LpDistance", name
    with pytest.raises(AssertionError):  # PML's check, for comparison
        pml_losses.SignalToNoiseRatioContrastiveLoss(distance=pml_distances.LpDistance())


def test_pml_attributes_in_pml_units():
    assert losses.AngularLoss(alpha=45).alpha == pytest.approx(math.pi / 4)
    assert losses.TupletMarginLoss(margin=5.73).margin == pytest.approx(np.radians(5.73))
    c = losses.CircleLoss(m=0.3, gamma=10)
    pc = pml_losses.CircleLoss(m=0.3, gamma=10)
    assert (c.op, c.on, c.delta_p, c.delta_n) == (pc.op, pc.on, pc.delta_p, pc.delta_n)


def test_angular_needs_labels_and_ref_labels():
    x, y = _batch()
    with pytest.raises(ValueError, match="labels"):
        losses.AngularLoss()(x, None, _duplicated_pairs())
    with pytest.raises(ValueError, match="ref_labels"):
        losses.AngularLoss()(x, y, None, x.detach() + 1)


# --------------------------------------------------------------------------------------
# AngularLoss: the negatives are normalised (PML leaves them raw)
# --------------------------------------------------------------------------------------
def test_angular_negatives_normalised_unlike_pml():
    x, y = _batch(4, n=12)
    x = x.detach()
    ours, theirs = losses.AngularLoss().double(), pml_losses.AngularLoss().double()
    scaled = x.detach() * torch.linspace(0.5, 3.0, 12, dtype=torch.float64)[:, None]
    assert float(ours(scaled, y)) == pytest.approx(float(ours(x, y)), rel=1e-12)  # scale-invariant
    assert abs(float(theirs(scaled, y)) - float(theirs(x, y))) > 1e-3  # PML depends on the norms
    unit = torch.nn.functional.normalize(x.detach())
    assert float(ours(x, y)) == pytest.approx(float(theirs(unit, y)), rel=1e-12)


def test_angular_gemm_form_equals_direct_sum():
    """The one-GEMM form and the direct P x M sum (used for wide alpha) give the same losses."""
    from agnostic_ml.losses import angular_losses
    from agnostic_ml.tuples import get_all_pairs_indices

    rng = np.random.default_rng(5)
    x = torch.nn.functional.normalize(torch.tensor(rng.standard_normal((15, 4))))
    r = torch.nn.functional.normalize(torch.tensor(rng.standard_normal((11, 4))))
    y, ry = torch.tensor(np.arange(15) % 3), torch.tensor(np.arange(11) % 4)
    a, p, _, _ = get_all_pairs_indices(y, ry)
    neg = y[:, None] != ry[None, :]
    for alpha in (40.0, 60.0, 85.0):
        t = math.tan(math.radians(alpha)) ** 2
        got = angular_losses(x, r, a, p, neg, t)
        f = 4 * t * ((x[a] + r[p]) @ r.T) - 2 * (1 + t) * (x[a] * r[p]).sum(1, keepdim=True)
        f = torch.where(neg[a], f, torch.tensor(-torch.inf, dtype=f.dtype))
        want = torch.logaddexp(torch.logsumexp(f, dim=1), torch.zeros(()))
        assert torch.allclose(got, want, rtol=1e-10), alpha
        got32 = angular_losses(x.float(), r.float(), a, p, neg, t)
        assert torch.allclose(got32.double(), want, rtol=1e-4), alpha


def test_angular_average_angle_stat_matches_pml_on_unit_inputs():
    x, y = _batch(6, n=12)
    unit = torch.nn.functional.normalize(x.detach())
    ours = losses.AngularLoss(collect_stats=True).double()
    theirs = pml_losses.AngularLoss(collect_stats=True).double()
    ours(unit, y)
    theirs(unit, y)
    assert float(ours.average_angle) == pytest.approx(theirs.average_angle, rel=1e-9)


# --------------------------------------------------------------------------------------
# TupletMarginLoss: finite at cos = 1 (PML: acos gives NaN)
# --------------------------------------------------------------------------------------
def test_tuplet_duplicate_embeddings_stay_finite():
    row = torch.tensor([[0.3, -1.2, 0.7]], dtype=torch.float64)
    x = torch.cat([row, row, row * 2, -row + 0.1, torch.tensor([[1.0, 0.5, -0.2]], dtype=torch.float64)])
    x.requires_grad_(True)
    y = torch.tensor([0, 0, 0, 1, 1])
    v = losses.TupletMarginLoss()(x, y)
    (g,) = torch.autograd.grad(v, x)
    assert torch.isfinite(v) and torch.isfinite(g).all()


def test_tuplet_angle_stats_match_pml():
    x, y = _batch(7, n=12)
    ours = losses.TupletMarginLoss(collect_stats=True).double()
    theirs = pml_losses.TupletMarginLoss(collect_stats=True).double()
    v_ours, v_pml = ours(x, y), theirs(x, y)
    assert_close(v_ours, v_pml, 1e-9, "value with collect_stats")
    assert float(ours.avg_pos_angle) == pytest.approx(theirs.avg_pos_angle, rel=1e-9)
    assert float(ours.avg_neg_angle) == pytest.approx(theirs.avg_neg_angle, rel=1e-9)


# --------------------------------------------------------------------------------------
# CircleLoss: the gradient is the derivative with the (detached) weights held constant
# --------------------------------------------------------------------------------------
def test_circle_gradient_holds_the_weights_constant():
    m, gamma = 0.4, 20.0
    x, y = _batch(8, n=9)
    loss = losses.CircleLoss(m=m, gamma=gamma).double()
    (g_ours,) = torch.autograd.grad(loss(x, y), x)
    pos = (y[:, None] == y[None, :]) & ~torch.eye(9, dtype=torch.bool)
    neg = y[:, None] != y[None, :]
    w_mat = torch.nn.functional.normalize(x.detach()) @ torch.nn.functional.normalize(x.detach()).T
    w_p, w_n = torch.relu(1 + m - w_mat), torch.relu(w_mat + m)

    def held(inp):
        s = torch.nn.functional.normalize(inp) @ torch.nn.functional.normalize(inp).T
        lp = torch.where(pos, -gamma * w_p * (s - (1 - m)), torch.tensor(-torch.inf, dtype=s.dtype))
        ln = torch.where(neg, gamma * w_n * (s - m), torch.tensor(-torch.inf, dtype=s.dtype))
        per_row = torch.nn.functional.softplus(torch.logsumexp(lp, 1) + torch.logsumexp(ln, 1))
        return per_row[per_row > 0].mean()

    assert torch.autograd.gradcheck(held, (x.detach().clone().requires_grad_(True),), eps=1e-6, atol=1e-6)
    (g_held,) = torch.autograd.grad(held(x), x)
    assert torch.allclose(g_ours, g_held, rtol=1e-9, atol=1e-12)


# --------------------------------------------------------------------------------------
# half precision and large exponents
# --------------------------------------------------------------------------------------
LARGE_EXPONENTS = {
    "circle_gamma80": lambda: losses.CircleLoss(),
    "circle_gamma256": lambda: losses.CircleLoss(m=0.25, gamma=256),
    "multi_similarity_beta50": lambda: losses.MultiSimilarityLoss(),
    "ntxent_t0.01": lambda: losses.NTXentLoss(temperature=0.01),
    "supcon_t0.01": lambda: losses.SupConLoss(temperature=0.01),
    "tuplet_scale64": lambda: losses.TupletMarginLoss(),
    "lifted_raw_lp": lambda: losses.LiftedStructureLoss(neg_margin=50, distance=distances.LpDistance(normalize_embeddings=False)),
    "ntxent_raw_lp_t0.01": lambda: losses.NTXentLoss(temperature=0.01, distance=distances.LpDistance(normalize_embeddings=False)),
}


@pytest.mark.parametrize("name", sorted(LARGE_EXPONENTS))
def test_bfloat16_large_exponents_finite_and_close(name):
    """Exponents of hundreds to thousands: float32, bfloat16 inputs and CPU bfloat16 autocast stay
    finite (value and gradient), and the half-precision values are close to float32's."""
    torch.manual_seed(0)
    x = (torch.randn(32, 16) * 3).requires_grad_(True)
    y = torch.arange(32) % 4
    loss = LARGE_EXPONENTS[name]()
    ref = loss(x, y)
    (g_ref,) = torch.autograd.grad(ref, x)
    assert torch.isfinite(ref) and torch.isfinite(g_ref).all()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        auto = loss(x, y)
    (g_auto,) = torch.autograd.grad(auto, x)
    xb = x.detach().bfloat16().requires_grad_(True)
    half = loss(xb, y)
    (g_half,) = torch.autograd.grad(half, xb)
    for v, g in ((auto, g_auto), (half, g_half)):
        assert torch.isfinite(v.float()) and torch.isfinite(g.float()).all()
        assert float(v.detach()) == pytest.approx(float(ref.detach()), rel=0.1, abs=0.05 * max(1.0, abs(float(ref.detach()))))


def test_ntxent_log_softmax_does_not_saturate():
    """PML's ``-log(softmax + tiny)`` saturates at -log(tiny) with a zero gradient once the
    softmax underflows; ours keeps the exact log-softmax and its gradient."""
    x = torch.tensor([[0.0, 0.0], [30.0, 0.0], [0.1, 0.0], [30.0, 0.2]], requires_grad=True)
    y = torch.tensor([0, 0, 1, 1])
    dist = dict(temperature=0.01)
    ours = losses.NTXentLoss(distance=distances.LpDistance(normalize_embeddings=False), **dist)
    theirs = pml_losses.NTXentLoss(distance=pml_distances.LpDistance(normalize_embeddings=False), **dist)
    v_ours, v_pml = ours(x, y), theirs(x, y)
    # Every pair's softmax underflows: PML gives -log(tiny) for each, with no gradient.
    assert float(v_pml.detach()) == pytest.approx(-math.log(torch.finfo(torch.float32).tiny), rel=1e-4)
    assert float(torch.autograd.grad(v_pml, x)[0].abs().sum()) == 0
    assert float(v_ours.detach()) > 2000  # ~ (29.9 - 0.1) / 0.01 per pair
    assert float(torch.autograd.grad(v_ours, x)[0].abs().sum()) > 0


def test_zero_loss_when_nothing_to_compute():
    x, y = _batch(9, n=8)
    distinct = torch.arange(8)
    for name in ("NTXentLoss", "LiftedStructureLoss", "TupletMarginLoss", "AngularLoss", "SupConLoss", "CircleLoss"):
        loss = getattr(losses, name)().double()
        v = loss(x, distinct)
        (g,) = torch.autograd.grad(v, x, allow_unused=True)
        assert float(v.detach()) == 0.0 and (g is None or float(g.abs().max()) == 0.0), name
    one_class = torch.zeros(8, dtype=torch.int64)  # positives but no negatives
    for name in ("NTXentLoss", "LiftedStructureLoss", "TupletMarginLoss", "AngularLoss", "SupConLoss", "CircleLoss"):
        v = getattr(losses, name)().double()(x, one_class)
        assert float(v.detach()) == 0.0, name


def test_reducer_dict_outputs_like_pml():
    """The loss dict (indices, reduction types) is PML's: checked through DoNothingReducer."""
    x, y = _batch(10, n=8)
    x = torch.nn.functional.normalize(x)  # AngularLoss agrees with PML on unit inputs
    for name in ("NTXentLoss", "LiftedStructureLoss", "TupletMarginLoss", "AngularLoss", "SupConLoss", "CircleLoss",
                 "MultiSimilarityLoss", "GeneralizedLiftedStructureLoss", "IntraPairVarianceLoss"):
        ours = getattr(losses, name)(reducer=reducers.DoNothingReducer()).double()
        from pytorch_metric_learning import reducers as pml_reducers

        theirs = getattr(pml_losses, name)(reducer=pml_reducers.DoNothingReducer()).double()
        d_ours, d_pml = ours(x, y), theirs(x, y)
        assert sorted(d_ours) == sorted(d_pml), name
        for key in d_pml:
            assert d_ours[key]["reduction_type"] == d_pml[key]["reduction_type"], (name, key)
            lo, lp = d_ours[key]["losses"], d_pml[key]["losses"]
            assert torch.allclose(torch.as_tensor(lo).flatten(), torch.as_tensor(lp).flatten().double(), rtol=1e-9), (name, key)
            io, ip = d_ours[key]["indices"], d_pml[key]["indices"]
            io = io if isinstance(io, tuple) else (io,)
            ip = ip if isinstance(ip, tuple) else (ip,)
            assert all(torch.equal(a, b) for a, b in zip(io, ip)), (name, key)
