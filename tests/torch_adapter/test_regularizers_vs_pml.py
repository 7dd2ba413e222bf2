"""The regularizers against PML 2.9.0 (value and gradient, float64), and their nn.Module shells.

Three uses: called directly on a matrix; as ``embedding_regularizer`` of a loss (on the
batch's embeddings); as ``weight_regularizer`` of a classification loss (on its class
weights or proxies, after loading PML's ``state_dict``).
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pml_losses = pytest.importorskip("pytorch_metric_learning.losses")
pml_reducers = pytest.importorskip("pytorch_metric_learning.reducers")
pml_regularizers = pytest.importorskip("pytorch_metric_learning.regularizers")
pml_distances = pytest.importorskip("pytorch_metric_learning.distances")

from torch import nn  # noqa: E402

import agnostic_ml.regularizers as core_regularizers  # noqa: E402
from agnostic_ml_torch import distances, losses, reducers, regularizers  # noqa: E402

from loss_helpers import assert_close, batch, grads  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

N, D = 24, 8
#: SparseCentersRegularizer needs num_classes * centers_per_class rows: 8 x 3 = N.
REGULARIZERS = {
    "lp": (lambda: regularizers.LpRegularizer(), lambda: pml_regularizers.LpRegularizer()),
    "lp_p1_power2_sum": (
        lambda: regularizers.LpRegularizer(p=1, power=2, reducer=reducers.SumReducer()),
        lambda: pml_regularizers.LpRegularizer(p=1, power=2, reducer=pml_reducers.SumReducer()),
    ),
    "center_invariant": (lambda: regularizers.CenterInvariantRegularizer(), lambda: pml_regularizers.CenterInvariantRegularizer()),
    "regular_face": (lambda: regularizers.RegularFaceRegularizer(), lambda: pml_regularizers.RegularFaceRegularizer()),
    "regular_face_dot": (
        lambda: regularizers.RegularFaceRegularizer(distance=distances.DotProductSimilarity(normalize_embeddings=False)),
        lambda: pml_regularizers.RegularFaceRegularizer(distance=pml_distances.DotProductSimilarity(normalize_embeddings=False)),
    ),
    "sparse_centers": (
        lambda: regularizers.SparseCentersRegularizer(8, 3),
        lambda: pml_regularizers.SparseCentersRegularizer(8, 3),
    ),
    "zero_mean": (lambda: regularizers.ZeroMeanRegularizer(), lambda: pml_regularizers.ZeroMeanRegularizer()),
    "zero_mean_mean_nonzero": (
        lambda: regularizers.ZeroMeanRegularizer(reducer=reducers.AvgNonZeroReducer()),
        lambda: pml_regularizers.ZeroMeanRegularizer(reducer=pml_reducers.AvgNonZeroReducer()),
    ),
}
NAMES = list(REGULARIZERS)


def _x(seed=0, n=N, d=D):
    rng = np.random.default_rng(seed)
    return torch.tensor(rng.standard_normal((n, d)), requires_grad=True)


@pytest.mark.parametrize("name", NAMES)
def test_direct_call_equals_pml(name):
    ours_f, pml_f = REGULARIZERS[name]
    x = _x(1)
    v_ours, v_pml = ours_f()(x), pml_f()(x)
    assert v_ours.shape == () and v_ours.dtype == torch.float64
    assert_close(v_ours, v_pml, 1e-9, f"{name} value")
    assert_close(*grads(v_ours, x), *grads(v_pml, x), 1e-9, f"{name} gradient")


@pytest.mark.parametrize("name", NAMES)
def test_as_embedding_regularizer_of_a_loss(name):
    """ContrastiveLoss + the regularizer on its embeddings, weighted: same total and gradient as PML."""
    ours_f, pml_f = REGULARIZERS[name]
    ours = losses.ContrastiveLoss(embedding_regularizer=ours_f(), embedding_reg_weight=0.3)
    theirs = pml_losses.ContrastiveLoss(embedding_regularizer=pml_f(), embedding_reg_weight=0.3)
    x, y = batch(2, n=N, d=D)
    v_ours, v_pml = ours(x, y), theirs(x, y)
    assert_close(v_ours, v_pml, 1e-9, f"{name} as embedding regularizer")
    assert_close(*grads(v_ours, x), *grads(v_pml, x), 1e-9, f"{name} as embedding regularizer: gradient")


#: (our loss, PML's loss, rows of its regularized weights); SparseCenters needs 8 x 3 rows.
WEIGHT_LOSSES = {
    "normalized_softmax": (lambda **kw: losses.NormalizedSoftmaxLoss(8, D, **kw), lambda **kw: pml_losses.NormalizedSoftmaxLoss(8, D, **kw)),
    "proxy_nca": (lambda **kw: losses.ProxyNCALoss(8, D, **kw), lambda **kw: pml_losses.ProxyNCALoss(8, D, **kw)),
    "soft_triple": (
        lambda **kw: losses.SoftTripleLoss(8, D, centers_per_class=3, **kw),
        lambda **kw: pml_losses.SoftTripleLoss(8, D, centers_per_class=3, **kw),
    ),
}


#: SparseCentersRegularizer is SoftTriple's (one row per centre: 8 x 3); the others go everywhere.
WEIGHT_CASES = [
    pytest.param(name, loss_name, id=f"{name}-{loss_name}")
    for name in NAMES
    for loss_name in WEIGHT_LOSSES
    if name != "sparse_centers" or loss_name == "soft_triple"
]


@pytest.mark.parametrize("name, loss_name", WEIGHT_CASES)
def test_as_weight_regularizer_of_a_loss(name, loss_name):
    ours_f, pml_f = REGULARIZERS[name]
    make_ours, make_pml = WEIGHT_LOSSES[loss_name]
    torch.manual_seed(3)
    theirs = make_pml(weight_regularizer=pml_f(), weight_reg_weight=0.7).double()
    ours = make_ours(weight_regularizer=ours_f(), weight_reg_weight=0.7)
    ours.load_state_dict(theirs.state_dict())
    ours.double()
    x, y = batch(4, n=N, d=D, c=8)
    v_ours, v_pml = ours(x, y), theirs(x, y)
    assert_close(v_ours, v_pml, 1e-9, f"{name} on {loss_name}")
    (w_name,) = [k for k, _ in ours.named_parameters()]
    w_ours, w_pml = dict(ours.named_parameters())[w_name], dict(theirs.named_parameters())[w_name]
    for what, a, b in zip(["embeddings", w_name], grads(v_ours, x, w_ours), grads(v_pml, x, w_pml)):
        assert_close(a, b, 1e-9, f"{name} on {loss_name}: gradient of {what}")
    # the weight regularizer alone is the difference with and without it
    plain = make_ours()
    plain.load_state_dict(theirs.state_dict())
    reg_only = float(v_ours.detach()) - float(plain.double()(x, y).detach())
    rows = w_ours.T if w_name in ("W", "fc") else w_ours
    assert reg_only == pytest.approx(0.7 * float(ours_f()(rows)), rel=1e-9, abs=1e-12)


def test_sparse_centers_stats_equal_pml():
    ours = regularizers.SparseCentersRegularizer(8, 3, collect_stats=True)
    theirs = pml_regularizers.SparseCentersRegularizer(8, 3, collect_stats=True)
    x = _x(5)
    ours(x), theirs(x)
    assert float(ours.same_class_center_sim) == pytest.approx(theirs.same_class_center_sim, rel=1e-9)
    assert float(ours.diff_class_center_sim) == pytest.approx(theirs.diff_class_center_sim, rel=1e-9)
    assert np.array_equal(ours.same_class_mask, theirs.same_class_mask.numpy())
    assert np.array_equal(ours.diff_class_mask, theirs.diff_class_mask.numpy())


def test_gradcheck_every_regularizer():
    for name in NAMES:
        reg = regularizers.SparseCentersRegularizer(4, 2) if name == "sparse_centers" else REGULARIZERS[name][0]()
        x = _x(6, n=8, d=4).detach().requires_grad_(True)
        assert torch.autograd.gradcheck(lambda t: reg(t), (x,), eps=1e-6, atol=1e-5, rtol=1e-4), name


def test_zero_rows_have_finite_gradients():
    """LpRegularizer's norm at a zero row: gradient 0 as torch.norm's (not NaN)."""
    x = torch.zeros(4, D, dtype=torch.float64, requires_grad=True)
    for reg in (regularizers.LpRegularizer(), regularizers.LpRegularizer(p=3), regularizers.ZeroMeanRegularizer()):
        (g,) = torch.autograd.grad(reg(x), x)
        assert torch.isfinite(g).all() and float(g.abs().max()) == 0.0


def test_regularizers_are_modules():
    reg = regularizers.LpRegularizer(p=1)
    assert isinstance(reg, nn.Module) and isinstance(reg, core_regularizers.LpRegularizer)
    assert isinstance(reg, regularizers.BaseRegularizer) and isinstance(reg.reducer, nn.Module)
    assert isinstance(reg.distance, nn.Module) and list(reg.state_dict()) == []
    md = nn.ModuleDict({"a": regularizers.ZeroMeanRegularizer(), "b": regularizers.SparseCentersRegularizer(2, 2)})
    assert len(list(md.modules())) > 2
    loss = losses.ArcFaceLoss(4, D, weight_regularizer=core_regularizers.RegularFaceRegularizer())
    assert isinstance(loss.weight_regularizer, nn.Module)  # a core object becomes its shell
    assert "weight_regularizer" in dict(loss.named_children())
    clone = copy.deepcopy(loss)
    assert isinstance(clone.weight_regularizer, regularizers.RegularFaceRegularizer)
    assert sorted(loss.state_dict()) == ["W"]


def test_regularizer_errors_name_the_argument():
    with pytest.raises(ValueError, match="centers_per_class"):
        regularizers.SparseCentersRegularizer(4, 1)
    with pytest.raises(ValueError, match="num_classes"):
        regularizers.SparseCentersRegularizer(0, 3)
    with pytest.raises(ValueError, match="CosineSimilarity"):
        regularizers.SparseCentersRegularizer(4, 2, distance=distances.LpDistance())
    with pytest.raises(ValueError, match="rows"):
        regularizers.SparseCentersRegularizer(4, 2)(_x(7, n=7))
    with pytest.raises(ValueError, match="normalize_embeddings"):
        regularizers.CenterInvariantRegularizer(distance=distances.LpDistance())
    with pytest.raises(ValueError, match="similarity"):
        regularizers.RegularFaceRegularizer(distance=distances.LpDistance())
    with pytest.raises(ValueError, match="2-D"):
        regularizers.LpRegularizer()(torch.ones(3))
    with pytest.raises(TypeError, match="floating"):
        regularizers.ZeroMeanRegularizer()(torch.ones(3, 2, dtype=torch.int64))
    with pytest.raises(TypeError, match="reducer"):
        regularizers.LpRegularizer(reducer="mean")
