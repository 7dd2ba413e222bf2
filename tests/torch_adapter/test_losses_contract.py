"""The contract every catalogued loss keeps, independent of PML.

gradcheck in float64; a batch with nothing to compute gives 0 with a zero (not NaN)
gradient; degenerate batches stay finite; bfloat16 autocast on CPU stays finite and leaves
the parameters' dtype alone; the core class gives the same value on NumPy and
array-api-strict as on torch; bad input raises errors that name the argument.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from agnostic_ml._array_api import to_numpy  # noqa: E402
from agnostic_ml_torch._shell import ShellModule  # noqa: E402

from loss_catalogue import C, D, cases  # noqa: E402
from loss_helpers import batch, call  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _fresh(case):
    torch.manual_seed(0)
    return case.ours().double()


@pytest.mark.parametrize("case", cases(where=lambda c: c.gradcheck))
def test_gradcheck(case):
    # A loss whose gradient is deliberately not the derivative of its value (PML detaches
    # some factors) says so in ``extra["not_a_derivative"]``, and its own tests check the
    # gradient against the derivative with those factors held constant.
    if case.extra.get("not_a_derivative"):
        pytest.skip(f"{case.name}: {case.extra['not_a_derivative']}")
    x, y = batch(5, n=10, d=D, case=case)
    x = x.detach().requires_grad_(True)
    loss = _fresh(case)
    # A stateful loss (extra["stateful"]: a running histogram) is evaluated from the same
    # state each time, or gradcheck's repeated calls would see different functions.
    state = copy.deepcopy(loss) if case.extra.get("stateful") else None

    def f(inp):
        return call(case, copy.deepcopy(state) if state is not None else loss, inp, y)

    # fast_mode checks the Jacobian along random directions (torch's documented fast gradcheck).
    assert torch.autograd.gradcheck(f, (x,), eps=1e-6, atol=1e-5, rtol=1e-4, fast_mode=True)


@pytest.mark.parametrize("case", cases(where=lambda c: c.kind == "triplet"))
def test_no_valid_triplet_gives_zero_with_zero_gradient(case):
    loss = _fresh(case)
    x, _ = batch(6)
    y = torch.arange(x.shape[0])  # all labels distinct: no positive pair
    v = call(case, loss, x, y)
    (g,) = torch.autograd.grad(v, x, allow_unused=True)
    assert v.shape == () and float(v.detach()) == 0.0
    assert g is None or (torch.isfinite(g).all() and float(g.abs().max()) == 0.0)


@pytest.mark.parametrize("case", cases(where=lambda c: c.tuples and c.empty_tuple_is_zero))
@pytest.mark.parametrize("arity", [3, 4])
def test_empty_indices_tuple_gives_zero_with_zero_gradient(case, arity):
    loss = _fresh(case)
    x, y = batch(7, case=case)
    empty = tuple(torch.zeros(0, dtype=torch.int64) for _ in range(arity))
    v = call(case, loss, x, y, empty)
    if case.kind == "classification" or case.extra.get("miner_weighted"):
        # Miner-weighted losses (PML's convert_to_weights): an empty tuple weights every sample 1.
        assert float(v.detach()) == pytest.approx(float(call(case, loss, x, y).detach()), rel=1e-12)
        return
    (g,) = torch.autograd.grad(v, x, allow_unused=True)
    assert float(v.detach()) == 0.0
    assert g is None or (torch.isfinite(g).all() and float(g.abs().max()) == 0.0)


@pytest.mark.parametrize("case", cases(where=lambda c: c.tuples and c.extra.get("miner_weighted")))
@pytest.mark.parametrize("arity", [3, 4])
def test_empty_indices_tuple_of_a_miner_weighted_loss_weighs_nothing(case, arity):
    """Losses that turn a tuple into per-sample weights (PML's ``convert_to_weights``) weigh
    every sample 1 for an empty tuple, as PML: the value is the one without a tuple."""
    loss = _fresh(case)
    x, y = batch(7, case=case)
    empty = tuple(torch.zeros(0, dtype=torch.int64) for _ in range(arity))
    v = call(case, loss, x, y, empty)
    v_none = call(case, loss, x, y)
    assert torch.isfinite(v) and float(v.detach()) == pytest.approx(float(v_none.detach()), rel=1e-12)


def _degenerate_batches():
    rng = np.random.default_rng(8)
    row = rng.standard_normal(D)
    dup = np.tile(row, (12, 1)) + 0.0
    return {
        "duplicates": (dup, np.array([0, 0, 1, 1, 2, 2, 3, 3, 0, 1, 2, 3])),
        "one_class": (rng.standard_normal((12, D)), np.zeros(12, dtype=np.int64)),
        "all_distinct": (rng.standard_normal((12, D)), np.arange(12)),
    }


@pytest.mark.parametrize("which", ["duplicates", "one_class", "all_distinct"])
@pytest.mark.parametrize("case", cases())
def test_degenerate_batches_stay_finite(case, which):
    loss = _fresh(case)
    emb, lab = _degenerate_batches()[which]
    if case.kind == "classification":
        lab = lab % C
    x = torch.tensor(emb, requires_grad=True)
    v = call(case, loss, x, torch.tensor(lab))
    (g,) = torch.autograd.grad(v, x, allow_unused=True)
    assert torch.isfinite(v), f"{case.name} on {which}: loss {v}"
    assert g is None or torch.isfinite(g).all(), f"{case.name} on {which}: non-finite gradient"


@pytest.mark.parametrize("case", cases())
def test_bfloat16_autocast_on_cpu(case):
    torch.manual_seed(0)
    loss = case.ours()
    dtypes = {k: p.dtype for k, p in loss.named_parameters()}
    x, y = batch(9, dtype=torch.float32, case=case)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        v = call(case, loss, x, y)
    (g,) = torch.autograd.grad(v, x, allow_unused=True)
    assert torch.isfinite(v.float())
    assert g is None or torch.isfinite(g.float()).all()
    assert {k: p.dtype for k, p in loss.named_parameters()} == dtypes, "autocast changed a parameter's dtype"


@pytest.mark.parametrize("case", cases(where=lambda c: not c.learnable and c.kind != "wrapper"))
# "backend_name": the backend recorder (tests/_record_backends.py) reads parameters named backend*.
@pytest.mark.parametrize("backend_name", ["numpy", "array_api_strict"])
def test_core_loss_same_value_on_other_backends(case, backend_name):
    from agnostic_ml.testing.backends import load_backend

    shell = _fresh(case)
    x, y = batch(10, case=case)
    expected = float(call(case, shell, x, y).detach())
    core_cls = next(c for c in type(shell).__mro__ if not issubclass(c, ShellModule))
    assert core_cls.__module__.startswith("agnostic_ml.losses")
    b = load_backend(backend_name)
    with b.context():
        core = case.extra.get("core", None)
        core = core() if core is not None else _rebuild_core(case, core_cls)
        xb = b.asarray(x.detach().numpy(), b.xp.float64)
        yb = b.asarray(y.numpy())
        got = call(case, core, xb, yb)
        assert float(to_numpy(got)) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def _rebuild_core(case, core_cls):
    """The core class built with the same arguments as the shell: the factory run with core modules."""
    import agnostic_ml.distances as cd
    import agnostic_ml.reducers as cr
    import agnostic_ml_torch.distances as td
    import agnostic_ml_torch.losses as tl
    import agnostic_ml_torch.reducers as tr
    import agnostic_ml.losses as cl

    saved = {}
    try:
        for shell_mod, core_mod in ((tl, cl), (td, cd), (tr, cr)):
            for n in shell_mod.__all__:
                saved[(shell_mod, n)] = getattr(shell_mod, n)
                setattr(shell_mod, n, getattr(core_mod, n))
        obj = case.ours()
    finally:
        for (mod, n), v in saved.items():
            setattr(mod, n, v)
    assert type(obj) is core_cls
    return obj


@pytest.mark.parametrize("case", cases(where=lambda c: c.labels and c.kind != "self_supervised"))
def test_labels_required(case):
    loss = _fresh(case)
    x, _ = batch(11)
    with pytest.raises((ValueError, TypeError), match="labels"):
        loss(x)


@pytest.mark.parametrize("case", cases(where=lambda c: c.tuples))
def test_bad_indices_tuple(case):
    x, y = batch(12)
    bad = [
        (torch.tensor([0]), torch.tensor([1])),  # neither triplets nor pairs
        (torch.tensor([0]), torch.tensor([x.shape[0] + 5 + 64]), torch.tensor([2])),  # beyond the reference set
        (torch.tensor([-1]), torch.tensor([1]), torch.tensor([2])),  # negative anchor
    ]
    for tup in bad:
        with pytest.raises(ValueError, match="indices_tuple"):
            _fresh(case)(x, y, tup)


@pytest.mark.parametrize("case", cases(where=lambda c: not c.ref and c.kind not in ("self_supervised", "wrapper")))
def test_ref_emb_refused_when_unsupported(case):
    loss = _fresh(case)
    x, y = batch(13)
    with pytest.raises(ValueError, match="ref_emb"):
        loss(x, y, None, x.detach() + 1, y)


@pytest.mark.parametrize("case", cases())
def test_embedding_and_label_errors_name_the_argument(case):
    loss = _fresh(case)
    x, y = batch(14)
    ints = torch.ones(4, D, dtype=torch.int64)
    with pytest.raises(TypeError, match="embeddings"):
        call(case, loss, ints, y[:4], r=ints if case.kind == "self_supervised" else None)
    if case.labels and case.kind != "self_supervised":
        with pytest.raises(ValueError, match="labels"):
            _fresh(case)(x, y[:-1])


@pytest.mark.parametrize("case", cases(where=lambda c: c.ref and c.kind != "self_supervised"))
def test_separate_reference_set(case):
    """ref_emb different from embeddings: finite, and gradients reach both."""
    loss = _fresh(case)
    x, y = batch(15, case=case)
    r, ry = batch(16, n=18, case=case)
    v = loss(x, y, None, r, ry)
    gx, gr = torch.autograd.grad(v, (x, r), allow_unused=True)
    assert torch.isfinite(v)
    for g in (gx, gr):
        assert g is None or torch.isfinite(g).all()
    assert gx is not None and float(gx.abs().sum()) > 0
