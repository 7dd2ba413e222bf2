"""Distances on every backend: values against NumPy float64, namespace/device/dtype, edge cases, errors.

References are written here in plain NumPy float64 (no Gram trick, no fast path) and
moved nowhere: results are brought back with ``backend.to_numpy``.
"""

from __future__ import annotations

import numpy as np
import pytest

from agnostic_ml.distances import (
    BaseDistance,
    BatchedDistance,
    CosineSimilarity,
    DistanceStats,
    DotProductSimilarity,
    LpDistance,
    SNRDistance,
)
from helpers import assert_array, tol

# -- NumPy float64 references ---------------------------------------------------------


def np_norm(x, p):
    if p == float("inf"):
        return np.max(np.abs(x), axis=-1)
    return np.sum(np.abs(x) ** p, axis=-1) ** (1.0 / p)


def np_normalize(x, p):
    return x / np.maximum(np_norm(x, p), 1e-12)[..., None]


def np_lp(q, r, p):
    return np_norm(q[:, None, :] - r[None, :, :], p)


def np_snr(q, r):
    return np.var(q[:, None, :] - r[None, :, :], axis=2, ddof=1) / np.var(q, axis=1, ddof=1)[:, None]


def reference(kind, q, r, *, p=2, normalize=True, power=1):
    """The matrix a distance of ``kind`` must produce, in float64."""
    if normalize:
        q, r = np_normalize(q, p), np_normalize(r, p)
    if kind == "lp":
        m = np_lp(q, r, p)
    elif kind == "dot":
        m = q @ r.T
    else:
        m = np_snr(q, r)
    return m**power


def make(kind, **kw):
    return {"lp": LpDistance, "dot": DotProductSimilarity, "snr": SNRDistance}[kind](**kw)


def data(seed, n=7, m=5, d=6):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), rng.normal(size=(m, d))


def loose(dtype, xp, factor=1.0):
    t = tol(dtype, xp)
    return {"rtol": t["rtol"] * factor, "atol": t["atol"] * factor}


# -- values ----------------------------------------------------------------------------


@pytest.mark.parametrize("p", [1, 2, 3])
@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("power", [1, 2])
def test_lp_distance_matches_reference(backend, dtype, p, normalize, power):
    q, r = data(0)
    dist = LpDistance(p=p, normalize_embeddings=normalize, power=power)
    bq, br = backend.asarray(q, dtype), backend.asarray(r, dtype)
    t = loose(dtype, backend.xp, 10 if power == 2 and not normalize else 1)
    out = dist(bq, br)
    assert_array(out, backend, dtype=dtype, shape=(7, 5))
    np.testing.assert_allclose(backend.to_numpy(out), reference("lp", q, r, p=p, normalize=normalize, power=power), **t)
    self_mat = dist(bq)
    assert_array(self_mat, backend, dtype=dtype, shape=(7, 7))
    np.testing.assert_allclose(backend.to_numpy(self_mat), reference("lp", q, q, p=p, normalize=normalize, power=power), **t)


def test_lp_distance_p_inf(backend, dtype):
    q, r = data(1)
    out = LpDistance(p=float("inf"))(backend.asarray(q, dtype), backend.asarray(r, dtype))
    assert_array(out, backend, dtype=dtype, shape=(7, 5))
    np.testing.assert_allclose(backend.to_numpy(out), reference("lp", q, r, p=float("inf")), **tol(dtype, backend.xp))


@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("power", [1, 2])
def test_dot_product_similarity_matches_reference(backend, dtype, normalize, power):
    q, r = data(2)
    dist = DotProductSimilarity(normalize_embeddings=normalize, power=power)
    bq, br = backend.asarray(q, dtype), backend.asarray(r, dtype)
    t = loose(dtype, backend.xp, 10)
    out = dist(bq, br)
    assert_array(out, backend, dtype=dtype, shape=(7, 5))
    np.testing.assert_allclose(backend.to_numpy(out), reference("dot", q, r, normalize=normalize, power=power), **t)
    np.testing.assert_allclose(backend.to_numpy(dist(bq)), reference("dot", q, q, normalize=normalize, power=power), **t)


@pytest.mark.parametrize("p", [1, 2])
def test_cosine_similarity_matches_reference(backend, dtype, p):
    q, r = data(3)
    dist = CosineSimilarity(p=p)
    assert dist.normalize_embeddings and dist.is_inverted
    out = dist(backend.asarray(q, dtype), backend.asarray(r, dtype))
    assert_array(out, backend, dtype=dtype, shape=(7, 5))
    np.testing.assert_allclose(backend.to_numpy(out), reference("dot", q, r, p=p), **tol(dtype, backend.xp))


@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("power", [1, 2])
def test_snr_distance_matches_reference(backend, dtype, normalize, power):
    """SNR uses a centred Gram identity (no Nq x Nr x D tensor): a little more rounding."""
    q, r = data(4)
    dist = SNRDistance(normalize_embeddings=normalize, power=power)
    bq, br = backend.asarray(q, dtype), backend.asarray(r, dtype)
    t = loose(dtype, backend.xp, 20)
    out = dist(bq, br)
    assert_array(out, backend, dtype=dtype, shape=(7, 5))
    np.testing.assert_allclose(backend.to_numpy(out), reference("snr", q, r, normalize=normalize, power=power), **t)
    np.testing.assert_allclose(backend.to_numpy(dist(bq)), reference("snr", q, q, normalize=normalize, power=power), **t)


@pytest.mark.parametrize(
    "dist", [LpDistance(), LpDistance(p=1), LpDistance(p=3), LpDistance(normalize_embeddings=False), SNRDistance()],
    ids=["lp2", "lp1", "lp3", "lp2-raw", "snr"],
)
def test_self_matrix_diagonal_is_exactly_zero_and_duplicates_are_near_zero(backend, dtype, dist):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(6, 4)) * 10
    x = np.concatenate([x, x[:2]])  # rows 6, 7 duplicate rows 0, 1
    out = backend.to_numpy(dist(backend.asarray(x, dtype)))
    np.testing.assert_array_equal(np.diag(out), 0)
    # The Gram identity leaves rounding noise of about sqrt(eps * |x|^2) on zero distances
    # (torch.cdist does the same above 25 rows); exact differences (p != 2) give exact zeros.
    eps = np.finfo(np.float32 if dtype == backend.xp.float32 else np.float64).eps
    atol = 4 * np.sqrt(eps * np.max(np.sum(x * x, axis=1))) if dist.p == 2 else 0
    np.testing.assert_allclose(out[0, 6], 0, atol=atol)
    np.testing.assert_allclose(out[7, 1], 0, atol=atol)
    assert np.all(out >= 0) and np.all(np.isfinite(out))


def test_self_similarity_diagonal_is_one(backend, dtype):
    x = backend.asarray(data(6)[0] * 3, dtype)
    out = backend.to_numpy(CosineSimilarity()(x))
    np.testing.assert_allclose(np.diag(out), 1, **tol(dtype, backend.xp))


def test_inputs_are_not_modified(backend, dtype):
    q, r = data(7)
    bq, br = backend.asarray(q, dtype), backend.asarray(r, dtype)
    for dist in (LpDistance(), LpDistance(normalize_embeddings=False), SNRDistance(), CosineSimilarity()):
        dist(bq, br)
        dist(bq)
    np.testing.assert_array_equal(backend.to_numpy(bq), q.astype(backend.to_numpy(bq).dtype))
    np.testing.assert_array_equal(backend.to_numpy(br), r.astype(backend.to_numpy(br).dtype))


# -- pairwise_distance ------------------------------------------------------------------


@pytest.mark.parametrize("p", [1, 2, 3])
def test_lp_pairwise_distance(backend, dtype, p):
    """Row-wise, no normalisation and no power (PML's contract), and no eps (unlike PML)."""
    q, r = data(8, n=6, m=6)
    dist = LpDistance(p=p, power=2)
    out = dist.pairwise_distance(backend.asarray(q, dtype), backend.asarray(r, dtype))
    assert_array(out, backend, dtype=dtype, shape=(6,))
    np.testing.assert_allclose(backend.to_numpy(out), np_norm(q - r, p), **tol(dtype, backend.xp))
    same = backend.to_numpy(dist.pairwise_distance(backend.asarray(q, dtype), backend.asarray(q, dtype)))
    np.testing.assert_array_equal(same, 0)


def test_similarity_and_snr_pairwise_distance(backend, dtype):
    q, r = data(9, n=6, m=6)
    bq, br = backend.asarray(q, dtype), backend.asarray(r, dtype)
    t = loose(dtype, backend.xp, 10)
    for dist in (DotProductSimilarity(), CosineSimilarity()):
        out = dist.pairwise_distance(bq, br)
        assert_array(out, backend, dtype=dtype, shape=(6,))
        np.testing.assert_allclose(backend.to_numpy(out), np.sum(q * r, axis=1), **t)
    out = SNRDistance().pairwise_distance(bq, br)
    assert_array(out, backend, dtype=dtype, shape=(6,))
    np.testing.assert_allclose(backend.to_numpy(out), np.var(q - r, axis=1, ddof=1) / np.var(q, axis=1, ddof=1), **t)


@pytest.mark.parametrize("kind", ["lp", "dot", "snr"])
def test_pairwise_distance_is_the_matrix_diagonal(backend, dtype, kind):
    q, r = data(10, n=5, m=5)
    dist = make(kind, normalize_embeddings=False)
    bq, br = backend.asarray(q, dtype), backend.asarray(r, dtype)
    diag = np.diag(backend.to_numpy(dist(bq, br)))
    np.testing.assert_allclose(backend.to_numpy(dist.pairwise_distance(bq, br)), diag, **loose(dtype, backend.xp, 20))


# -- helpers: is_inverted, smallest/largest, margin, normalize, get_norm -----------------


def test_is_inverted_flags():
    assert LpDistance().is_inverted is False
    assert SNRDistance().is_inverted is False
    assert DotProductSimilarity().is_inverted is True
    assert CosineSimilarity().is_inverted is True
    assert BatchedDistance(CosineSimilarity()).is_inverted is True


def test_smallest_largest_dist_and_margin(backend, dtype):
    x = np.array([[3.0, 1.0, 2.0], [0.5, 4.0, -1.0]])
    y = np.array([[1.0, 2.0, 2.0], [1.0, 1.0, 1.0]])
    bx, by = backend.asarray(x, dtype), backend.asarray(y, dtype)
    for dist, is_inv in ((LpDistance(), False), (CosineSimilarity(), True)):
        lo, hi = (np.max, np.min) if is_inv else (np.min, np.max)
        s1 = dist.smallest_dist(bx, dim=1)
        assert_array(s1, backend, dtype=dtype, shape=(2,))
        np.testing.assert_array_equal(backend.to_numpy(s1), lo(x, axis=1))
        np.testing.assert_array_equal(backend.to_numpy(dist.smallest_dist(bx, axis=0)), lo(x, axis=0))
        np.testing.assert_array_equal(backend.to_numpy(dist.largest_dist(bx, 1)), hi(x, axis=1))
        np.testing.assert_array_equal(backend.to_numpy(dist.largest_dist(bx)), hi(x))
        # elementwise form f(x, y) (PML's torch.min(x, y), used by TripletMarginLoss swap)
        ew = dist.smallest_dist(bx, by)
        assert_array(ew, backend, dtype=dtype, shape=(2, 3))
        np.testing.assert_array_equal(backend.to_numpy(ew), (np.maximum if is_inv else np.minimum)(x, y))
        np.testing.assert_array_equal(backend.to_numpy(dist.largest_dist(bx, by)), (np.minimum if is_inv else np.maximum)(x, y))
        m = dist.margin(bx, by)
        assert_array(m, backend, dtype=dtype, shape=(2, 3))
        np.testing.assert_array_equal(backend.to_numpy(m), (y - x) if is_inv else (x - y))


@pytest.mark.parametrize("p", [1, 2, 3, float("inf")])
def test_normalize_and_get_norm(backend, dtype, p):
    x = data(11)[0]
    x[2] = 0.0  # a zero row stays zero (no NaN), as torch's F.normalize
    dist = LpDistance(p=p)
    bx = backend.asarray(x, dtype)
    norm = dist.get_norm(bx)
    assert_array(norm, backend, dtype=dtype, shape=(7,))
    np.testing.assert_allclose(backend.to_numpy(norm), np_norm(x, p), **tol(dtype, backend.xp))
    xn = dist.normalize(bx)
    assert_array(xn, backend, dtype=dtype, shape=x.shape)
    np.testing.assert_allclose(backend.to_numpy(xn), np_normalize(x, p), **tol(dtype, backend.xp))
    assert backend.to_numpy(xn)[2].tolist() == [0.0] * x.shape[1]
    got = backend.to_numpy(dist.get_norm(xn))
    np.testing.assert_allclose(np.delete(got, 2), 1.0, **loose(dtype, backend.xp, 10))
    # along dim 0, and maybe_normalize obeys normalize_embeddings
    np.testing.assert_allclose(backend.to_numpy(dist.get_norm(bx, dim=0)), np_norm(x.T, p), **tol(dtype, backend.xp))
    assert LpDistance(normalize_embeddings=False).maybe_normalize(bx) is bx


# -- BatchedDistance ---------------------------------------------------------------------


@pytest.mark.parametrize("batch_size", [1, 3, 7, 100])
@pytest.mark.parametrize("kind", ["lp", "dot", "snr"])
def test_batched_distance_blocks_match_full_matrix(backend, dtype, batch_size, kind):
    q, r = data(12)
    inner = make(kind)
    bq, br = backend.asarray(q, dtype), backend.asarray(r, dtype)
    for ref, m in ((br, 5), (None, 7)):
        blocks = []

        def iter_fn(mat, s, e):
            assert_array(mat, backend, dtype=dtype, shape=(e - s, m))
            blocks.append((s, e, backend.to_numpy(mat)))

        out = BatchedDistance(inner, iter_fn, batch_size=batch_size)(bq, ref)
        assert out is None
        starts = list(range(0, 7, batch_size))
        assert [(s, e) for s, e, _ in blocks] == [(s, min(s + batch_size, 7)) for s in starts]
        full = backend.to_numpy(inner(bq, ref))
        # Blocks are computed against an explicit ref, so the self diagonal is rounded, not forced to 0.
        np.testing.assert_allclose(np.concatenate([b for _, _, b in blocks]), full, rtol=1e-4, atol=2e-3 if dtype == backend.xp.float32 else 1e-6)


def test_batched_distance_proxies_attributes():
    inner = LpDistance(p=3, power=2)
    b = BatchedDistance(inner, batch_size=4)
    assert (b.p, b.power, b.is_inverted, b.normalize_embeddings) == (3, 2, False, True)
    assert b.distance is inner and b.batch_size == 4
    assert float(b.margin(np.float64(3.0), np.float64(1.0))) == 2.0
    with pytest.raises(AttributeError):
        b.no_such_attribute  # noqa: B018


# -- shapes and dtypes -------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["lp", "dot", "snr"])
def test_empty_inputs(backend, dtype, kind):
    dist = make(kind)
    q, r = data(13, n=4, m=3)
    e = backend.asarray(np.zeros((0, 6)), dtype)
    bq, br = backend.asarray(q, dtype), backend.asarray(r, dtype)
    assert_array(dist(e), backend, dtype=dtype, shape=(0, 0))
    assert_array(dist(e, br), backend, dtype=dtype, shape=(0, 3))
    assert_array(dist(bq, e), backend, dtype=dtype, shape=(4, 0))
    assert_array(LpDistance(p=3)(bq, e), backend, dtype=dtype, shape=(4, 0))
    calls = []
    BatchedDistance(dist, lambda m, s, t: calls.append(s), batch_size=2)(e, br)
    assert calls == []


def test_mixed_float_dtypes_promote(backend):
    xp = backend.xp
    q, r = data(14)
    out = LpDistance()(backend.asarray(q, xp.float32), backend.asarray(r, xp.float64))
    assert_array(out, backend, dtype=xp.float64, shape=(7, 5))
    np.testing.assert_allclose(backend.to_numpy(out), reference("lp", q, r), rtol=1e-5, atol=1e-6)


HALF_CASES = [LpDistance(), LpDistance(p=1), LpDistance(normalize_embeddings=False, power=2), CosineSimilarity(),
              DotProductSimilarity(normalize_embeddings=False), SNRDistance()]
HALF_IDS = ["lp2", "lp1", "lp2-raw-sq", "cos", "dot-raw", "snr"]


@pytest.mark.parametrize("dist", HALF_CASES, ids=HALF_IDS)
def test_float16_numpy_computed_in_float32(dist):
    q, r = data(15)
    q16, r16 = q.astype(np.float16), r.astype(np.float16)
    out = dist(q16, r16)
    assert isinstance(out, np.ndarray) and out.dtype == np.float16 and out.shape == (7, 5)
    # Exactly the float32 computation on the same (float16-rounded) values, cast back.
    expected = dist(q16.astype(np.float32), r16.astype(np.float32)).astype(np.float16)
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_allclose(out.astype(np.float64), dist(q, r), rtol=2e-2, atol=2e-2)
    assert dist(q16).dtype == np.float16


@pytest.mark.parametrize("half", ["float16", "bfloat16"])
@pytest.mark.parametrize("dist", HALF_CASES, ids=HALF_IDS)
def test_half_precision_torch_computed_in_float32(dist, half):
    torch = pytest.importorskip("torch")
    dt = getattr(torch, half)
    q, r = data(16)
    tq, tr = torch.tensor(q, dtype=dt), torch.tensor(r, dtype=dt)
    out = dist(tq, tr)
    assert isinstance(out, torch.Tensor) and out.dtype == dt and out.device == tq.device and out.shape == (7, 5)
    expected = dist(tq.float(), tr.float()).to(dt)
    torch.testing.assert_close(out, expected, rtol=0, atol=0)
    rtol = 2e-2 if half == "float16" else 1e-1
    np.testing.assert_allclose(out.double().numpy(), dist(q, r), rtol=rtol, atol=rtol)
    assert dist(tq).dtype == dt


# -- stats -------------------------------------------------------------------------------


@pytest.mark.parametrize("p", [1, 2])
def test_collect_stats(backend, dtype, p):
    q, r = data(17)
    bq, br = backend.asarray(q * 2, dtype), backend.asarray(r, dtype)
    off = LpDistance(p=p)
    off(bq, br)
    assert off.stats is None
    for normalize in (True, False):
        dist = LpDistance(p=p, normalize_embeddings=normalize, collect_stats=True)
        dist(bq, br)
        st = dist.stats
        assert isinstance(st, DistanceStats)
        vals = [st.initial_avg_query_norm, st.initial_avg_ref_norm, st.final_avg_query_norm, st.final_avg_ref_norm]
        assert all(type(v) is float for v in vals)
        qn, rn = (np_normalize(q * 2, p), np_normalize(r, p)) if normalize else (q * 2, r)
        expected = [np_norm(q * 2, p).mean(), np_norm(r, p).mean(), np_norm(qn, p).mean(), np_norm(rn, p).mean()]
        np.testing.assert_allclose(vals, expected, rtol=1e-5)
        dist(bq)  # self call: the ref stats are the query's
        assert dist.stats.initial_avg_ref_norm == pytest.approx(dist.stats.initial_avg_query_norm)


# -- bad input ---------------------------------------------------------------------------


def test_rejects_wrong_rank(backend):
    dist = LpDistance()
    x = backend.asarray(np.ones((3, 2)), backend.xp.float32)
    with pytest.raises(ValueError, match=r"query_emb must be 2-D .*got shape \(3,\)"):
        dist(backend.asarray(np.ones(3), backend.xp.float32))
    with pytest.raises(ValueError, match=r"query_emb must be 2-D .*got shape \(2, 3, 2\)"):
        dist(backend.asarray(np.ones((2, 3, 2)), backend.xp.float32))
    with pytest.raises(ValueError, match=r"ref_emb must be 2-D .*got shape \(2,\)"):
        dist(x, backend.asarray(np.ones(2), backend.xp.float32))


def test_rejects_integer_embeddings(backend):
    x = backend.asarray(np.ones((3, 2), dtype=np.int64), backend.xp.int64)
    with pytest.raises(TypeError, match="query_emb must have a real floating dtype, got .*int64"):
        LpDistance()(x)
    f = backend.asarray(np.ones((3, 2)), backend.xp.float32)
    with pytest.raises(TypeError, match="ref_emb must have a real floating dtype"):
        CosineSimilarity()(f, x)


def test_rejects_mismatched_widths(backend):
    q = backend.asarray(np.ones((3, 4)), backend.xp.float32)
    r = backend.asarray(np.ones((2, 5)), backend.xp.float32)
    with pytest.raises(ValueError, match="ref_emb has 5 features but query_emb has 4"):
        SNRDistance()(q, r)


def test_rejects_mixed_namespaces():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="arrays from different libraries were mixed"):
        LpDistance()(np.ones((3, 2)), torch.ones(3, 2))
    with pytest.raises(TypeError, match="arrays from different libraries were mixed"):
        LpDistance().smallest_dist(np.ones(3), torch.ones(3))


def test_rejects_ref_on_another_device():
    strict = pytest.importorskip("array_api_strict")
    q = strict.asarray(np.ones((3, 2)), dtype=strict.float32, device=strict.Device("CPU_DEVICE"))
    r = strict.asarray(np.ones((3, 2)), dtype=strict.float32, device=strict.Device("device1"))
    with pytest.raises(ValueError, match="ref_emb is on device .*device1.* but query_emb is on .*CPU_DEVICE"):
        LpDistance()(q, r)


@pytest.mark.parametrize("p", [0, -1, "2", None, True])
def test_rejects_invalid_p(p):
    with pytest.raises(ValueError, match=f"p must be a positive number, got {p!r}"):
        LpDistance(p=p)


def test_rejects_invalid_power():
    with pytest.raises(TypeError, match="power must be a number, got '2'"):
        LpDistance(power="2")


def test_rejects_wrong_inversion():
    with pytest.raises(ValueError, match="LpDistance is a distance: is_inverted must be False"):
        LpDistance(is_inverted=True)
    with pytest.raises(ValueError, match="SNRDistance is a distance: is_inverted must be False"):
        SNRDistance(is_inverted=True)
    with pytest.raises(ValueError, match="DotProductSimilarity is a similarity: is_inverted must be True"):
        DotProductSimilarity(is_inverted=False)


def test_cosine_rejects_normalize_false():
    """PML raises TypeError (a duplicated keyword); we raise a ValueError that says why."""
    with pytest.raises(ValueError, match="CosineSimilarity always normalises: normalize_embeddings must be True"):
        CosineSimilarity(normalize_embeddings=False)


@pytest.mark.parametrize("batch_size", [0, -3, 1.5, True, "8"])
def test_batched_distance_rejects_bad_batch_size(batch_size):
    with pytest.raises(ValueError, match=f"batch_size must be a positive int, got {batch_size!r}"):
        BatchedDistance(LpDistance(), lambda m, s, e: None, batch_size=batch_size)


def test_batched_distance_needs_iter_fn():
    b = BatchedDistance(LpDistance())
    with pytest.raises(ValueError, match="iter_fn is None: set BatchedDistance.iter_fn"):
        b(np.ones((3, 2)))
    with pytest.raises(TypeError, match="iter_fn must be callable .* got int"):
        BatchedDistance(LpDistance(), iter_fn=3)
    seen = []
    b.iter_fn = lambda m, s, e: seen.append((s, e))  # set later, as PML allows
    b(np.ones((3, 2)))
    assert seen == [(0, 3)]


def test_distance_argument_must_be_a_distance():
    with pytest.raises(TypeError, match="distance must be an agnostic_ml distance, got str"):
        BatchedDistance("lp", lambda m, s, e: None)
    with pytest.raises(TypeError, match="distance must be an agnostic_ml distance, got BatchedDistance"):
        BatchedDistance(BatchedDistance(LpDistance()), lambda m, s, e: None)
    from agnostic_ml.miners import BaseMiner

    with pytest.raises(TypeError, match="distance must be an agnostic_ml distance, got function"):
        BaseMiner(distance=lambda a, b: a)


def test_base_distance_is_abstract():
    with pytest.raises(NotImplementedError):
        BaseDistance()(np.ones((2, 2)))
    assert "LpDistance(normalize_embeddings=True, p=2, power=1)" == repr(LpDistance())


@pytest.mark.parametrize("omp", [None, "1"])
def test_large_numpy_matrix_matches_reference(monkeypatch, omp):
    """Above ~4M entries the NumPy epilogue (clamp, sqrt) runs in row blocks on a few threads."""
    if omp is not None:
        monkeypatch.setenv("OMP_NUM_THREADS", omp)
    rng = np.random.default_rng(18)
    q, r = rng.normal(size=(2100, 4)), rng.normal(size=(2000, 4))
    r[:7] = q[:7]
    out = LpDistance(normalize_embeddings=False)(q.astype(np.float32), r.astype(np.float32))
    assert out.dtype == np.float32 and out.shape == (2100, 2000)
    rows = np.r_[0:40, 1030:1070, 2060:2100]  # in every thread's slab
    np.testing.assert_allclose(out[rows], np_lp(q[rows], r, 2), rtol=1e-4, atol=2e-3)
    self_mat = LpDistance()(q)
    np.testing.assert_array_equal(np.diag(self_mat), 0)
    np.testing.assert_allclose(self_mat[rows], np_lp(np_normalize(q[rows], 2), np_normalize(q, 2), 2), rtol=1e-9, atol=1e-7)


def test_wide_numpy_self_matrix_matches_reference():
    """NumPy's self matrix at D >= 256 takes the q @ q.T (syrk) path."""
    rng = np.random.default_rng(19)
    q = rng.normal(size=(1100, 260))
    q[5] = q[3]
    for dt, atol in ((np.float32, 2e-3), (np.float64, 1e-7)):
        out = LpDistance(normalize_embeddings=False)(q.astype(dt))
        assert out.dtype == dt and out.shape == (1100, 1100)
        np.testing.assert_array_equal(np.diag(out), 0)
        np.testing.assert_allclose(out[:40], np_lp(q[:40], q, 2), rtol=1e-5, atol=atol * 20)
        np.testing.assert_allclose(out[3, 5], 0, atol=atol * 20)
