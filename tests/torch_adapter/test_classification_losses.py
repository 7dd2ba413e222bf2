"""What the catalogue cannot express for the classification losses (class weights / proxies).

PML's initialisation drawn from the same seed, a real checkpoint round trip, weights that
never change dtype (PML#309), get_logits, SubCenterArcFace's get_outliers, the errors that
name num_classes / embedding_size, miner weights, ManifoldLoss's meta classes and rng,
P2SGrad's in-place renormalisation, and the core classes on NumPy and array-api-strict.
"""

from __future__ import annotations

import copy
import io
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pml_losses = pytest.importorskip("pytorch_metric_learning.losses")
pml_miners = pytest.importorskip("pytorch_metric_learning.miners")

import agnostic_ml.losses as core_losses  # noqa: E402
from agnostic_ml._array_api import to_numpy  # noqa: E402
from agnostic_ml_torch import distances, losses, reducers  # noqa: E402

from loss_catalogue import BY_NAME, C, D  # noqa: E402
from catalogue_classification import MANIFOLD_K  # noqa: E402
from loss_helpers import assert_close, batch, build_pair, call, grads  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

#: One configuration per loss class (the defaults).
DEFAULTS = [
    "large_margin_softmax",
    "sphereface",
    "arcface",
    "cosface",
    "subcenter_arcface",
    "normalized_softmax",
    "proxy_nca",
    "proxy_anchor",
    "soft_triple",
    "p2sgrad",
    "manifold",
]
#: Losses with a ``get_logits`` in PML.
WITH_LOGITS = [n for n in DEFAULTS if n not in ("p2sgrad", "manifold")]


def _case(name):
    return pytest.param(BY_NAME[name], id=name)


def _params(loss):
    return dict(loss.named_parameters())


# -- parameters: names, shapes, dtype, initialisation -------------------------------------------
@pytest.mark.parametrize("case", [_case(n) for n in DEFAULTS])
def test_initialisation_is_pmls_draw_for_the_same_seed(case):
    """Same torch seed, same initial weights: PML's torch.nn.init function and shape, float32."""
    torch.manual_seed(11)
    theirs = case.pml()
    torch.manual_seed(11)
    ours = case.ours()
    p_ours, p_pml = _params(ours), _params(theirs)
    assert sorted(p_ours) == sorted(p_pml)
    for k, p in p_pml.items():
        assert p_ours[k].dtype == torch.float32 and p_ours[k].shape == p.shape
        assert torch.equal(p_ours[k].detach(), p.detach()), f"{case.name}.{k} is not PML's initial draw"


def test_parameter_names_and_shapes():
    torch.manual_seed(0)
    shapes = {
        "large_margin_softmax": {"W": (D, C)},
        "subcenter_arcface": {"W": (D, C * 3)},
        "normalized_softmax": {"W": (D, C)},
        "proxy_nca": {"proxies": (C, D)},
        "proxy_anchor": {"proxies": (C, D)},
        "soft_triple": {"fc": (D, C * 3)},
        "p2sgrad": {"weight": (D, C)},
        "manifold": {"proxies": (MANIFOLD_K, D)},
    }
    for name, expected in shapes.items():
        got = {k: tuple(p.shape) for k, p in _params(BY_NAME[name].ours()).items()}
        assert got == expected, name


def test_weight_init_func_is_honoured():
    loss = losses.ArcFaceLoss(C, D, weight_init_func=lambda w: torch.nn.init.constant_(w, 0.25))
    assert torch.all(loss.W == 0.25)
    assert torch.all(losses.ProxyAnchorLoss(C, D, weight_init_func=torch.nn.init.ones_).proxies == 1)


# -- a PML training checkpoint migrates ---------------------------------------------------------
def _train(case, loss, steps, seed):
    """A few plain SGD steps (lr 0.1) on the loss's own weights, with fixed random batches.

    Written out instead of ``torch.optim.SGD``, whose first construction imports
    torch._dynamo (about 10 s on the CI machine).
    """
    params = list(loss.parameters())
    for step in range(steps):
        x, y = batch(100 + seed * 10 + step, dtype=torch.float32)
        gs = torch.autograd.grad(call(case, loss, x, y), params)
        with torch.no_grad():
            for p, g in zip(params, gs):
                p -= 0.1 * g


@pytest.mark.parametrize("case", [_case(n) for n in DEFAULTS] + [_case("soft_triple_sparse_centers")])
def test_pml_checkpoint_round_trip(case, tmp_path):
    """PML trained a few steps and saved with torch.save; ours loads it: same next step (and back)."""
    torch.manual_seed(1)
    theirs = case.pml()
    _train(case, theirs, 3, seed=0)
    path = tmp_path / "pml.pt"
    torch.save(theirs.state_dict(), path)
    ours = case.ours()
    ours.load_state_dict(torch.load(path))
    x, y = batch(7, dtype=torch.float32)
    v_pml, v_ours = call(case, theirs, x, y), call(case, ours, x, y)
    assert_close(v_ours, v_pml, 1e-5, f"{case.name} next-step loss")
    names = sorted(_params(ours))
    g_ours = grads(v_ours, x, *[_params(ours)[k] for k in names])
    g_pml = grads(v_pml, x, *[_params(theirs)[k] for k in names])
    for what, a, b in zip(["embeddings"] + names, g_ours, g_pml):
        assert_close(a, b, 1e-4, f"{case.name} next-step gradient of {what}")
    # and back: our checkpoint (after our own training steps) loads into a fresh PML loss
    _train(case, ours, 2, seed=1)
    buf = io.BytesIO()
    torch.save(ours.state_dict(), buf)
    buf.seek(0)
    fresh = case.pml()
    fresh.load_state_dict(torch.load(buf))
    assert_close(call(case, fresh, x, y), call(case, ours, x, y), 1e-5, f"{case.name} after loading ours into PML")


# -- weights never change dtype (PML#309) ---------------------------------------------------------
@pytest.mark.parametrize("case", [_case(n) for n in DEFAULTS])
def test_float64_inputs_use_an_upcast_copy_of_the_float32_weights(case):
    torch.manual_seed(2)
    ours = case.ours()
    reference = copy.deepcopy(ours).double()
    x, y = batch(3)  # float64
    v = call(case, ours, x, y)
    assert v.dtype == torch.float64
    assert all(p.dtype == torch.float32 for p in ours.parameters()), "a float64 call changed a weight's dtype"
    # P2SGrad renormalises its weight in the weight's own dtype (float32 here, float64 in the copy)
    rtol = 1e-7 if case.name == "p2sgrad" else 1e-12
    assert_close(v, call(case, reference, x, y), rtol, f"{case.name} float64 against upcast weights")
    # PML casts its weights in place (PML#309): after a float64 call they are float64.
    if case.name != "manifold":  # PML's ManifoldLoss never casts its proxies
        torch.manual_seed(2)
        theirs = case.pml()
        call(case, theirs, x, y)
        assert any(p.dtype == torch.float64 for p in theirs.parameters())


@pytest.mark.parametrize("case", [_case(n) for n in DEFAULTS])
def test_half_inputs_and_autocast_keep_float32_weights(case):
    torch.manual_seed(4)
    ours = case.ours()
    x, y = batch(5, dtype=torch.float32)
    v32 = call(case, ours, x, y)
    xh = x.detach().half().requires_grad_(True)
    vh = call(case, ours, xh, y)
    (gh,) = torch.autograd.grad(vh, xh)
    assert torch.isfinite(vh) and torch.isfinite(gh).all() and gh.dtype == torch.float16
    with torch.autocast("cpu", dtype=torch.bfloat16):
        vb = call(case, ours, x, y)
    assert all(p.dtype == torch.float32 for p in ours.parameters())
    # float16 inputs are computed against the float32 weights; bf16 autocast only rounds the GEMMs
    v32, vh, vb = (float(v.detach()) for v in (v32, vh, vb))
    assert vh == pytest.approx(v32, rel=5e-3, abs=1e-3)
    assert vb == pytest.approx(v32, rel=2e-2, abs=1e-2)


def test_scale_64_logits_do_not_overflow_in_half_precision():
    """ArcFace's scale=64 logits: exp overflows float16 (65504); the cross-entropy runs in float32."""
    torch.manual_seed(0)
    loss = losses.ArcFaceLoss(C, D)
    x, y = batch(6, dtype=torch.float32)
    x16 = (x.detach() * 50).half().requires_grad_(True)  # large embeddings: cosines unchanged
    v = loss(x16, y)
    (g,) = torch.autograd.grad(v, x16)
    assert torch.isfinite(v) and torch.isfinite(g).all()
    assert float(v) == pytest.approx(float(loss(x.detach() * 50, y)), rel=5e-3)


# -- get_logits ----------------------------------------------------------------------------
@pytest.mark.parametrize("case", [_case(n) for n in WITH_LOGITS])
def test_get_logits_equals_pml(case):
    ours, theirs = build_pair(case)
    x, _ = batch(8)
    a, b = ours.get_logits(x), theirs.get_logits(x)
    assert a.shape == b.shape == (x.shape[0], C)
    assert_close(a, b, 1e-9, f"{case.name}.get_logits")
    ga = torch.autograd.grad(a.sum(), x)[0]
    gb = torch.autograd.grad(b.sum(), x)[0]
    assert_close(ga, gb, 1e-9, f"{case.name}.get_logits gradient")


# -- SubCenterArcFaceLoss ----------------------------------------------------------------------
def _subcenter_pair(sub_centers=3, seed=0):
    torch.manual_seed(seed)
    theirs = pml_losses.SubCenterArcFaceLoss(num_classes=C, embedding_size=D, sub_centers=sub_centers)
    ours = losses.SubCenterArcFaceLoss(C, D, sub_centers=sub_centers)  # positional: PML needs keywords
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


@pytest.mark.parametrize("threshold", [30, 75, 90])
def test_get_outliers_equals_pml(threshold):
    ours, theirs = _subcenter_pair()
    rng = np.random.default_rng(3)
    # embeddings near a sub-centre of their class, plus noise, so that the dominant centres matter
    centres = theirs.W.detach().T.numpy()  # (C * 3, D)
    labels = np.concatenate([np.arange(C), rng.integers(0, C, 36)])
    pick = labels * 3 + rng.integers(0, 2, labels.shape[0])
    emb = torch.tensor(centres[pick] + 0.8 * rng.standard_normal((labels.shape[0], D)), dtype=torch.float32)
    y = torch.tensor(labels)
    out_pml, centers_pml = theirs.get_outliers(emb, y, threshold=threshold)
    out_ours, centers_ours = ours.get_outliers(emb, y, threshold=threshold)
    assert out_ours.dtype == torch.int64 and out_ours.tolist() == out_pml.tolist()
    assert torch.equal(centers_ours, centers_pml.to(centers_ours.dtype))
    alone = ours.get_outliers(emb, y, threshold=threshold, return_dominant_centers=False)
    assert torch.is_tensor(alone) and alone.tolist() == out_pml.tolist()
    # PML returns the tuple even with return_dominant_centers=False (operator precedence)
    assert isinstance(theirs.get_outliers(emb, y, threshold=threshold, return_dominant_centers=False), tuple)


def test_get_outliers_ignores_absent_classes_and_takes_no_gradient():
    ours, theirs = _subcenter_pair()
    x, _ = batch(9, n=10, dtype=torch.float32)
    y = torch.tensor([0, 2, 0, 2, 2, 0, 0, 2, 2, 0])  # classes 1 and 3 absent
    out, centers = ours.get_outliers(x, y)
    out_pml, centers_pml = theirs.get_outliers(x, y)
    assert out.tolist() == out_pml.tolist()
    assert torch.equal(centers[:, [0, 2]], centers_pml[:, [0, 2]])
    assert torch.equal(centers[:, 1], ours.W.detach()[:, 3])  # an absent class: its sub-centre 0
    assert not out.requires_grad and not centers.requires_grad
    with pytest.raises(ValueError, match="num_classes"):
        ours.get_outliers(x, y + 2)


def test_subcenter_arcface_honours_the_other_keywords():
    loss = losses.SubCenterArcFaceLoss(num_classes=C, embedding_size=D, reducer=reducers.SumReducer())
    assert isinstance(loss.reducer, reducers.SumReducer)
    assert loss.num_classes == C and loss.sub_centers == 3 and tuple(loss.W.shape) == (D, 3 * C)


# -- errors that name the argument -------------------------------------------------------------
WIDTH_NAME = {"p2sgrad": "descriptors_dim", "manifold": "l"}


@pytest.mark.parametrize("case", [_case(n) for n in DEFAULTS])
def test_embedding_width_mismatch_names_the_argument(case):
    torch.manual_seed(0)
    loss = case.ours()
    x, y = batch(12, d=D + 1)
    with pytest.raises(ValueError, match=WIDTH_NAME.get(case.name, "embedding_size")):
        call(case, loss, x, y)


@pytest.mark.parametrize("case", [_case(n) for n in DEFAULTS if n != "manifold"])
def test_labels_outside_num_classes_name_the_argument(case):
    torch.manual_seed(0)
    loss = case.ours()
    x, y = batch(13)
    for bad in (y + C, y - 1):
        with pytest.raises(ValueError, match="num_classes"):
            loss(x, bad)


@pytest.mark.parametrize("case", [_case(n) for n in DEFAULTS if n != "manifold"])
def test_ref_emb_error_names_the_loss(case):
    torch.manual_seed(0)
    loss = case.ours()
    x, y = batch(14)
    with pytest.raises(ValueError, match=f"ref_emb is not supported by {type(loss).__name__}"):
        loss(x, y, None, x.detach(), y)


def test_constructor_arguments_are_checked():
    for bad in (0, -2, 2.5, True):
        with pytest.raises(ValueError, match="num_classes"):
            losses.ArcFaceLoss(bad, D)
        with pytest.raises(ValueError, match="embedding_size"):
            losses.ProxyAnchorLoss(C, bad)
    with pytest.raises(ValueError, match="sub_centers"):
        losses.SubCenterArcFaceLoss(C, D, sub_centers=0)
    with pytest.raises(ValueError, match="CosineSimilarity"):
        losses.CosFaceLoss(C, D, distance=distances.DotProductSimilarity())
    with pytest.raises(ValueError, match="similarity"):
        losses.SoftTripleLoss(C, D, distance=distances.LpDistance())
    with pytest.raises(ValueError, match="lambdaC"):
        losses.ManifoldLoss(l=D, lambdaC=-1)
    with pytest.raises(ValueError, match="margin"):
        losses.LargeMarginSoftmaxLoss(C, D, margin=0)


def test_p2sgrad_refuses_an_indices_tuple():
    torch.manual_seed(0)
    loss = losses.P2SGradLoss(D, C)
    x, y = batch(15)
    tup = (torch.tensor([0]), torch.tensor([1]), torch.tensor([2]))
    with pytest.raises(ValueError, match="indices_tuple is not supported by P2SGradLoss"):
        loss(x, y, tup)


# -- miner weights (PML's convert_to_weights) -------------------------------------------------------
def _hand_tuples():
    a = torch.tensor([0, 0, 3, 5, 5, 5])
    p = torch.tensor([1, 2, 4, 6, 7, 1])
    n = torch.tensor([9, 10, 11, 12, 9, 9])
    return {"triplets": (a, p, n), "pairs": (a[:3], p[:3], a[3:], n[3:])}


@pytest.mark.parametrize("which", ["triplets", "pairs"])
@pytest.mark.parametrize("case", [_case(n) for n in DEFAULTS if BY_NAME[n].tuples])
def test_hand_made_and_pml_miner_tuples_weight_as_pml(case, which):
    """Repeated indices (weights count/max) and samples absent from the tuple (weight 0)."""
    ours, theirs = build_pair(case)
    x, y = batch(16)
    tup = _hand_tuples()[which]
    assert_close(call(case, ours, x, y, tup), call(case, theirs, x, y, tup), 1e-9, f"{case.name}/{which}")
    miner = pml_miners.TripletMarginMiner(margin=0.5) if which == "triplets" else pml_miners.PairMarginMiner(0.2, 0.5)
    tup = miner(x.detach(), y)  # PML's miner output, torch tensors
    assert_close(call(case, ours, x, y, tup), call(case, theirs, x, y, tup), 1e-9, f"{case.name}/PML {which}")


# -- statistics -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["large_margin_softmax", "arcface", "cosface"])
def test_avg_angle_is_recorded_as_pml(name):
    case = BY_NAME[name]
    torch.manual_seed(0)
    theirs = type(case.pml())(C, D, collect_stats=True)
    ours = getattr(losses, type(theirs).__name__)(C, D, collect_stats=True)
    ours.load_state_dict(theirs.state_dict())
    x, y = batch(17, dtype=torch.float32)
    ours(x, y), theirs(x, y)
    assert float(ours.avg_angle) == pytest.approx(theirs.avg_angle, rel=1e-5)


# -- ManifoldLoss ----------------------------------------------------------------------------------
def test_manifold_refuses_labels_and_miner_tuples():
    torch.manual_seed(0)
    loss = losses.ManifoldLoss(l=D, K=MANIFOLD_K)
    x, y = batch(18)
    with pytest.raises(ValueError, match="labels are not supported"):
        loss(x, y)
    with pytest.raises(ValueError, match="meta class"):
        loss(x, indices_tuple=(torch.tensor([0]), torch.tensor([1]), torch.tensor([2])))
    with pytest.raises(ValueError, match="length"):
        loss(x, indices_tuple=torch.zeros(3, dtype=torch.int64))
    with pytest.raises(ValueError, match="K=4"):
        loss(x, indices_tuple=torch.full((x.shape[0],), MANIFOLD_K))
    with pytest.raises(ValueError, match="at least K"):
        losses.ManifoldLoss(l=D, K=50)(x)


def test_manifold_random_meta_classes_come_from_rng():
    """Without indices_tuple the meta classes are drawn from rng: every proxy once, the rest uniform."""
    torch.manual_seed(0)
    a = losses.ManifoldLoss(l=D, K=MANIFOLD_K, rng=7)
    b = copy.deepcopy(a)
    a.rng, b.rng = np.random.default_rng(7), np.random.default_rng(7)
    x, _ = batch(19)
    meta = a.meta_classes(x)
    assert meta.dtype == torch.int64 and meta.shape == (x.shape[0],)
    assert sorted(set(meta.tolist())) == list(range(MANIFOLD_K))
    assert b.meta_classes(x).tolist() == meta.tolist()  # same seed, same draw
    a.rng, b.rng = np.random.default_rng(7), np.random.default_rng(7)
    assert float(a(x)) == float(b(x, indices_tuple=meta))


def test_manifold_lambda_extremes():
    torch.manual_seed(0)
    x, _ = batch(20)
    meta = torch.arange(x.shape[0]) % MANIFOLD_K
    base = losses.ManifoldLoss(l=D, K=MANIFOLD_K, lambdaC=1.0)
    state = base.state_dict()
    parts = {}
    for lam in (0.0, 1.0, math.inf):
        loss = losses.ManifoldLoss(l=D, K=MANIFOLD_K, lambdaC=lam)
        loss.load_state_dict(state)
        parts[lam] = float(loss(x, indices_tuple=meta))
    assert math.isfinite(parts[math.inf])
    assert parts[math.inf] == pytest.approx(parts[1.0] - parts[0.0], rel=1e-9)
    # PML's lambdaC=inf gives 0 + inf * loss_ctx
    torch.manual_seed(0)
    pml = pml_losses.ManifoldLoss(l=D, K=MANIFOLD_K, lambdaC=math.inf)
    assert not math.isfinite(float(pml(x, indices_tuple=meta)))


# -- P2SGradLoss: the in-place renormalisation ---------------------------------------------------------
def test_p2sgrad_renormalises_like_pml_after_an_optimizer_step():
    torch.manual_seed(0)
    theirs = pml_losses.P2SGradLoss(D, C)
    ours = losses.P2SGradLoss(D, C)
    ours.load_state_dict(theirs.state_dict())
    for loss in (ours, theirs):
        with torch.no_grad():
            loss.weight.mul_(torch.linspace(0.5, 3.0, C))  # columns off the unit sphere
    x, y = batch(21, dtype=torch.float32)
    param = ours.weight
    v_ours, v_pml = ours(x, y), theirs(x, y)
    assert ours.weight is param and ours.weight.dtype == torch.float32
    assert torch.allclose(ours.weight.norm(dim=0), torch.ones(C), atol=1e-6)
    assert torch.allclose(ours.weight, theirs.weight, atol=1e-7)
    assert_close(v_ours, v_pml, 1e-6, "p2sgrad after rescaling the weights")
    # a graph built before the renormalisation still back-propagates (PML's .data assignment)
    first = ours(x, y)
    ours(x, y)
    first.backward()
    assert torch.isfinite(ours.weight.grad).all()


# -- the core classes of the learnable losses on NumPy and array-api-strict -----------------------------
def _core_twin(shell, case):
    """The core object of the same configuration, with the shell's weights as NumPy float32 arrays."""
    core_cls = getattr(core_losses, type(shell).__name__)
    torch.manual_seed(0)
    import test_losses_contract as contract

    core = contract._rebuild_core(case, core_cls)
    for k, p in shell.named_parameters():
        setattr(core, k, p.detach().numpy().copy())
    return core


@pytest.mark.parametrize("backend_name", ["numpy", "array_api_strict", "array_api_strict_strictest"])
@pytest.mark.parametrize("case", [_case(n) for n in DEFAULTS])
def test_core_learnable_losses_on_other_backends(case, backend_name):
    from agnostic_ml.testing.backends import load_backend as make_backend

    torch.manual_seed(0)
    shell = case.ours()
    core = _core_twin(shell, case)
    shell = shell.double()
    x, y = batch(22)
    expected = float(call(case, shell, x, y).detach())
    # P2SGrad renormalises its weight in the weight's dtype (float32 in the core, float64 in the shell here)
    rel = 1e-6 if case.name == "p2sgrad" else 1e-9
    b = make_backend(backend_name)
    with b.context():
        xb = b.asarray(x.detach().numpy(), b.xp.float64)
        yb = b.asarray(y.numpy())
        if case.name == "manifold":
            got = core(xb, indices_tuple=b.asarray(np.arange(x.shape[0]) % MANIFOLD_K))
        else:
            got = core(xb, yb)
        assert float(to_numpy(got)) == pytest.approx(expected, rel=rel)
        if hasattr(core, "get_logits"):
            logits = core.get_logits(xb)
            assert tuple(logits.shape) == (x.shape[0], C)
            assert np.allclose(to_numpy(logits), shell.get_logits(x).detach().numpy(), rtol=rel, atol=1e-12)


# -- ProxyNCALoss: probabilities that underflow -----------------------------------------------------
def test_proxy_nca_keeps_samples_whose_probability_underflows():
    """PML's -log(softmax) drops samples whose own-proxy probability is 0 (the worst ones); ours keeps them."""
    torch.manual_seed(0)
    theirs = pml_losses.ProxyNCALoss(C, D, softmax_scale=200)
    ours = losses.ProxyNCALoss(C, D, softmax_scale=200)
    ours.load_state_dict(theirs.state_dict())
    x, y = batch(23, dtype=torch.float32)
    v_ours, v_pml = ours(x, y), theirs(x, y)
    mat = -200 * ours.get_logits(x)
    expected = -torch.log_softmax(mat, dim=1).gather(1, y[:, None]).squeeze(1)
    assert torch.isfinite(v_ours) and float(v_ours) == pytest.approx(float(expected.mean()), rel=1e-5)
    p = torch.softmax(mat, dim=1).gather(1, y[:, None]).squeeze(1)
    assert int((p == 0).sum()) > 0, "the batch must contain underflowing probabilities"
    # PML averages only the samples whose probability did not underflow (and -log of a
    # probability near float32's smallest numbers is itself imprecise: rel 1e-3)
    assert float(v_pml) == pytest.approx(float(expected[p != 0].mean()), rel=1e-3)
    assert float(v_pml) < float(v_ours)
