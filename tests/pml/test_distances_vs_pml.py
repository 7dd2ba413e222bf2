"""Differential tests: our distances against PML 2.9.0 on the same random data.

PML gets torch tensors on the CPU (float32 or float64); ours gets the same values on every
backend. Where we deliberately differ from PML, the test says why:

- ``LpDistance.pairwise_distance``: PML calls ``F.pairwise_distance``, which adds
  ``eps=1e-6`` to the difference (``||x - y + eps||_p``, so d(x, x) = 1e-6 * D^(1/p)).
  Ours computes ``||x - y||_p`` exactly, so we compare with an absolute tolerance that
  covers that eps.
- ``smallest_dist(x, dim=1)`` / ``largest_dist``: PML returns torch's ``(values,
  indices)``; ours returns the values only (compared with PML's ``.values``).
- ``BatchedDistance``: PML hands ``iter_fn`` an end index ``s + batch_size`` even past the
  last row; ours clamps it to ``len(query)`` (the blocks themselves are identical).
- Half precision: PML's LpDistance falls back to a pairwise meshgrid in float16 (with the
  eps above) and fails in bfloat16 (no ``cdist`` kernel); ours computes in float32 and
  casts back, so we compare at half tolerance (bfloat16 Lp: against PML in float32).
- ``CosineSimilarity(normalize_embeddings=False)`` is a TypeError in PML (duplicate
  keyword) and a ValueError with a message here (tested in test_distances.py).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agnostic_ml import distances as ours
from helpers import assert_array

torch = pytest.importorskip("torch")
pml = pytest.importorskip("pytorch_metric_learning.distances")

SEEDS = [0, 1, 2]
CLASSES = ["LpDistance", "DotProductSimilarity", "CosineSimilarity", "SNRDistance"]


def _tol(dtype_name, cls="LpDistance", power=1, normalize=True):
    if dtype_name == "float64":
        return {"rtol": 1e-10, "atol": 1e-10}
    scale = 1 if normalize else 10
    if cls == "SNRDistance":  # centred Gram identity vs PML's explicit variance of differences
        scale *= 10
    return {"rtol": 2e-5 * scale * power, "atol": 2e-5 * scale * power}


def _pair(obj_kwargs, cls):
    kw = dict(obj_kwargs)
    if cls == "CosineSimilarity":
        kw.pop("normalize_embeddings", None)
    return getattr(ours, cls)(**kw), getattr(pml, cls)(**kw)


def _inputs(seed, n=9, m=6, d=5):
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(n, d)) * rng.uniform(0.5, 3.0, size=(n, 1))
    r = rng.normal(size=(m, d))
    return q, r


@pytest.mark.parametrize("cls", CLASSES)
@pytest.mark.parametrize("p", [1, 2, 3])
@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("power", [1, 2])
@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
def test_matrix_matches_pml(backend, cls, p, normalize, power, dtype_name):
    if cls == "CosineSimilarity" and not normalize:
        pytest.skip("CosineSimilarity always normalises")
    dtype = getattr(backend.xp, dtype_name)
    tdt = getattr(torch, dtype_name)
    mine, theirs = _pair({"p": p, "normalize_embeddings": normalize, "power": power}, cls)
    t = _tol(dtype_name, cls, power, normalize)
    for seed in SEEDS:
        q, r = _inputs(seed)
        bq, br = backend.asarray(q, dtype), backend.asarray(r, dtype)
        tq, tr = torch.tensor(q, dtype=tdt), torch.tensor(r, dtype=tdt)
        for ref_b, ref_t, shape in ((br, tr, (9, 6)), (None, None, (9, 9))):
            got = mine(bq, ref_b)
            assert_array(got, backend, dtype=dtype, shape=shape)
            want = theirs(tq, ref_t).numpy()
            np.testing.assert_allclose(backend.to_numpy(got), want, **t, err_msg=f"seed={seed} ref={ref_b is not None}")


@pytest.mark.parametrize("cls", CLASSES)
def test_flags_and_defaults_match_pml(cls):
    mine, theirs = getattr(ours, cls)(), getattr(pml, cls)()
    for attr in ("normalize_embeddings", "p", "power", "is_inverted"):
        assert getattr(mine, attr) == getattr(theirs, attr), attr
    b_mine = ours.BatchedDistance(mine)
    b_theirs = pml.BatchedDistance(theirs)
    assert (b_mine.batch_size, b_mine.iter_fn, b_mine.is_inverted) == (b_theirs.batch_size, b_theirs.iter_fn, b_theirs.is_inverted)


@pytest.mark.parametrize("p", [1, 2, 3])
@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
def test_lp_pairwise_distance_matches_pml_up_to_eps(backend, p, dtype_name):
    """PML adds eps=1e-6 inside F.pairwise_distance; we do not (d(x, x) is exactly 0 here)."""
    dtype, tdt = getattr(backend.xp, dtype_name), getattr(torch, dtype_name)
    for seed in SEEDS:
        q, _ = _inputs(seed)
        r = np.roll(q, 1, axis=0)
        r[0] = q[0]  # one identical pair
        mine, theirs = ours.LpDistance(p=p, power=2), pml.LpDistance(p=p, power=2)
        got = mine.pairwise_distance(backend.asarray(q, dtype), backend.asarray(r, dtype))
        assert_array(got, backend, dtype=dtype, shape=(9,))
        want = theirs.pairwise_distance(torch.tensor(q, dtype=tdt), torch.tensor(r, dtype=tdt)).numpy()
        eps_effect = 1e-6 * q.shape[1] ** (1 / p)
        np.testing.assert_allclose(backend.to_numpy(got), want, rtol=1e-5, atol=eps_effect * 1.01 + 1e-5)
        assert backend.to_numpy(got)[0] == 0.0
        assert want[0] == pytest.approx(eps_effect, rel=1e-2)


@pytest.mark.parametrize("cls", ["DotProductSimilarity", "CosineSimilarity", "SNRDistance"])
@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
def test_other_pairwise_distances_match_pml(backend, cls, dtype_name):
    dtype, tdt = getattr(backend.xp, dtype_name), getattr(torch, dtype_name)
    mine, theirs = getattr(ours, cls)(), getattr(pml, cls)()
    for seed in SEEDS:
        q, r = _inputs(seed, n=6, m=6)
        got = mine.pairwise_distance(backend.asarray(q, dtype), backend.asarray(r, dtype))
        assert_array(got, backend, dtype=dtype, shape=(6,))
        want = theirs.pairwise_distance(torch.tensor(q, dtype=tdt), torch.tensor(r, dtype=tdt)).numpy()
        np.testing.assert_allclose(backend.to_numpy(got), want, **_tol(dtype_name))


@pytest.mark.parametrize("cls", CLASSES)
def test_is_inverted_smallest_largest_margin_match_pml(backend, cls):
    """PML's dim form returns (values, indices); ours returns the values."""
    mine, theirs = getattr(ours, cls)(), getattr(pml, cls)()
    assert mine.is_inverted == theirs.is_inverted
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    bx, by = backend.asarray(x, backend.xp.float64), backend.asarray(y, backend.xp.float64)
    tx, ty = torch.tensor(x), torch.tensor(y)
    for dim in (0, 1):
        np.testing.assert_array_equal(backend.to_numpy(mine.smallest_dist(bx, dim=dim)), theirs.smallest_dist(tx, dim=dim).values.numpy())
        np.testing.assert_array_equal(backend.to_numpy(mine.largest_dist(bx, dim=dim)), theirs.largest_dist(tx, dim=dim).values.numpy())
    assert float(backend.to_numpy(mine.smallest_dist(bx))) == theirs.smallest_dist(tx).item()
    assert float(backend.to_numpy(mine.largest_dist(bx))) == theirs.largest_dist(tx).item()
    np.testing.assert_array_equal(backend.to_numpy(mine.smallest_dist(bx, by)), theirs.smallest_dist(tx, ty).numpy())
    np.testing.assert_array_equal(backend.to_numpy(mine.largest_dist(bx, by)), theirs.largest_dist(tx, ty).numpy())
    np.testing.assert_array_equal(backend.to_numpy(mine.margin(bx, by)), theirs.margin(tx, ty).numpy())


@pytest.mark.parametrize("p", [1, 2, 3])
@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
def test_normalize_and_get_norm_match_pml(backend, p, dtype_name):
    dtype, tdt = getattr(backend.xp, dtype_name), getattr(torch, dtype_name)
    q, _ = _inputs(4)
    q[3] = 0.0  # zero row: F.normalize leaves it at 0
    mine, theirs = ours.LpDistance(p=p), pml.LpDistance(p=p)
    bq, tq = backend.asarray(q, dtype), torch.tensor(q, dtype=tdt)
    for dim in (0, 1):
        np.testing.assert_allclose(backend.to_numpy(mine.normalize(bq, dim=dim)), theirs.normalize(tq, dim=dim).numpy(), **_tol(dtype_name))
        np.testing.assert_allclose(backend.to_numpy(mine.get_norm(bq, dim=dim)), theirs.get_norm(tq, dim=dim).numpy(), **_tol(dtype_name))
        np.testing.assert_allclose(backend.to_numpy(mine.maybe_normalize(bq, dim=dim)), theirs.maybe_normalize(tq, dim=dim).numpy(), **_tol(dtype_name))


@pytest.mark.parametrize("cls", CLASSES)
@pytest.mark.parametrize("batch_size", [1, 4, 32])
def test_batched_distance_matches_pml(backend, cls, batch_size):
    """Same blocks as PML; PML's end index is s + batch_size even past the end, ours is clamped."""
    q, r = _inputs(5)
    dtype = backend.xp.float64
    for ref_b, ref_t in ((backend.asarray(r, dtype), torch.tensor(r)), (None, None)):
        got, want = [], []
        ours.BatchedDistance(getattr(ours, cls)(), lambda m, s, e: got.append((s, e, backend.to_numpy(m))), batch_size)(
            backend.asarray(q, dtype), ref_b
        )
        pml.BatchedDistance(getattr(pml, cls)(), lambda m, s, e: want.append((s, e, m.numpy())), batch_size)(torch.tensor(q), ref_t)
        assert [s for s, _, _ in got] == [s for s, _, _ in want]
        assert [e for _, e, _ in got] == [min(e, q.shape[0]) for _, e, _ in want]
        for (_, _, a), (_, _, b) in zip(got, want):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-7)  # self blocks: Gram rounding near 0


@pytest.mark.parametrize("cls", CLASSES)
@pytest.mark.parametrize("p", [1, 2, 3])
@pytest.mark.parametrize("normalize", [True, False])
def test_collect_stats_match_pml(backend, cls, p, normalize):
    if cls == "CosineSimilarity" and not normalize:
        pytest.skip("CosineSimilarity always normalises")
    kw = {"p": p, "normalize_embeddings": normalize, "collect_stats": True}
    mine, theirs = _pair(kw, cls)
    names = ["initial_avg_query_norm", "initial_avg_ref_norm", "final_avg_query_norm", "final_avg_ref_norm"]
    for seed in SEEDS[:2]:
        q, r = _inputs(seed)
        for ref_b, ref_t in ((backend.asarray(r, backend.xp.float32), torch.tensor(r, dtype=torch.float32)), (None, None)):
            mine(backend.asarray(q, backend.xp.float32), ref_b)
            theirs(torch.tensor(q, dtype=torch.float32), ref_t)
            got = [getattr(mine.stats, n) for n in names]
            assert all(type(v) is float for v in got)
            np.testing.assert_allclose(got, [getattr(theirs, n) for n in names], rtol=1e-5)


@pytest.mark.parametrize("cls", CLASSES)
@pytest.mark.parametrize("half", ["float16", "bfloat16"])
def test_half_precision_close_to_pml(cls, half):
    """PML: float16 Lp via a pairwise meshgrid (with eps), others in half; ours in float32, cast back."""
    dt = getattr(torch, half)
    q, r = _inputs(6)
    tq, tr = torch.tensor(q, dtype=dt), torch.tensor(r, dtype=dt)
    mine, theirs = getattr(ours, cls)(), getattr(pml, cls)()
    got = mine(tq, tr)
    assert got.dtype == dt
    if cls == "LpDistance" and half == "bfloat16":
        # PML fails here (torch.cdist has no bfloat16 kernel); compare with PML in float32.
        with pytest.raises(NotImplementedError, match="cdist"):
            theirs(tq, tr)
        want = theirs(tq.float(), tr.float())
    else:
        want = theirs(tq, tr)
    tol = 2e-2 if half == "float16" else 6e-2
    np.testing.assert_allclose(got.double().numpy(), want.double().numpy(), rtol=tol, atol=tol)


@settings(max_examples=30)
@given(
    n=st.integers(1, 12),
    m=st.integers(1, 12),
    d=st.integers(2, 8),
    seed=st.integers(0, 2**16),
    cls=st.sampled_from(CLASSES),
    p=st.sampled_from([1, 2, 3]),
    power=st.sampled_from([1, 2]),
    with_ref=st.booleans(),
    grid=st.booleans(),
)
def test_random_shapes_match_pml(n, m, d, seed, cls, p, power, with_ref, grid):
    """Random shapes; ``grid`` draws values from {-1, 0, 1} so rows repeat and ties occur."""
    rng = np.random.default_rng(seed)
    draw = (lambda s: rng.integers(-1, 2, size=s).astype(np.float64)) if grid else (lambda s: rng.normal(size=s))
    q, r = draw((n, d)), draw((m, d))
    if cls == "SNRDistance":  # SNR divides by Var(q): constant rows give inf/NaN in both libraries
        q[:, 0], q[:, 1] = 2.0, -2.0
    mine, theirs = _pair({"p": p, "power": power}, cls)
    got = mine(q, r if with_ref else None)
    want = theirs(torch.tensor(q), torch.tensor(r) if with_ref else None).numpy()
    assert got.shape == want.shape and got.dtype == np.float64
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-7)
