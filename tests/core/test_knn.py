"""Exact blocked kNN (agnostic_ml.accuracy.knn, ExactKNN, FaissKNN) on every backend."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from helpers import assert_array, tol

from agnostic_ml.accuracy import KNN, ExactKNN, FaissKNN, knn
from agnostic_ml.accuracy.knn import plan_blocks
from agnostic_ml.distances import CosineSimilarity, DotProductSimilarity, LpDistance


def brute_force(q: np.ndarray, r: np.ndarray, k: int, *, exclude_self: bool = False, largest: bool = False):
    """Reference kNN in float64 NumPy: stable sort, so ties keep the lower reference index."""
    q = q.astype(np.float64)
    r = r.astype(np.float64)
    if largest:
        d = q @ r.T
        key = -d
    else:
        d = np.sqrt(np.maximum(((q[:, None, :] - r[None, :, :]) ** 2).sum(-1), 0))
        key = d.copy()
    if exclude_self:
        key[np.arange(q.shape[0]), np.arange(q.shape[0])] = np.inf
    idx = np.argsort(key, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(d, idx, axis=1), idx


def _data(seed: int, n: int, d: int = 4) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, d)) * 3


@pytest.mark.parametrize("ref_includes_query", [False, True])
def test_knn_equals_brute_force(backend, dtype, ref_includes_query):
    xp = backend.xp
    q_np, r_np = _data(0, 17), _data(1, 29)
    if ref_includes_query:
        r_np = np.concatenate([q_np, r_np])
    q, r = backend.asarray(q_np, dtype), backend.asarray(r_np, dtype)
    d, i = knn(q, r, 6, ref_includes_query=ref_includes_query)
    assert_array(d, backend, dtype=dtype, shape=(17, 6))
    assert_array(i, backend, dtype=xp.int64, shape=(17, 6))
    d_ref, i_ref = brute_force(q_np, r_np, 6, exclude_self=ref_includes_query)
    np.testing.assert_array_equal(backend.to_numpy(i), i_ref)
    np.testing.assert_allclose(backend.to_numpy(d), d_ref, **tol(dtype, xp))


def test_ties_lower_reference_index_first(backend):
    # Query 0 at 0: references at distance 1 are rows 1, 2, 3 (tied), then distance 2.
    r_np = np.array([[0.0], [1.0], [-1.0], [1.0], [2.0], [-2.0]])
    q, r = backend.asarray(r_np[:1]), backend.asarray(r_np)
    for kwargs in ({}, {"ref_block_size": 2}, {"ref_block_size": 1}, {"block_size": 1}):
        d, i = knn(q, r, 5, **kwargs)
        assert backend.to_numpy(i).tolist() == [[0, 1, 2, 3, 4]], kwargs
        assert backend.to_numpy(d).tolist() == [[0.0, 1.0, 1.0, 1.0, 2.0]]


def test_self_is_masked_exactly_even_with_duplicates(backend):
    # Three identical points: each must get the *other* two, not itself (PML only drops the
    # self index if the search happened to return it).
    x_np = np.array([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [5.0, 0.0]])
    x = backend.asarray(x_np)
    for kwargs in ({}, {"block_size": 1}, {"ref_block_size": 1}, {"ref_block_size": 3}):
        _, i = knn(x, x, 2, ref_includes_query=True, **kwargs)
        assert backend.to_numpy(i).tolist() == [[1, 2], [0, 2], [0, 1], [0, 1]], kwargs


@pytest.mark.parametrize("block_size,ref_block_size", [(1, None), (3, None), (None, 5), (4, 7), (2, 1), (50, 64)])
def test_blocked_equals_unblocked(backend, block_size, ref_block_size):
    # Integer coordinates: exact distances and many ties, so any difference in the merge or in
    # tie-breaking would show.
    g = np.random.default_rng(3)
    x_np = g.integers(-2, 3, size=(23, 3)).astype(np.float64)
    x = backend.asarray(x_np, backend.xp.float64)
    for riq in (False, True):
        d0, i0 = knn(x, x, 9, ref_includes_query=riq)
        d1, i1 = knn(x, x, 9, ref_includes_query=riq, block_size=block_size, ref_block_size=ref_block_size)
        np.testing.assert_array_equal(backend.to_numpy(i0), backend.to_numpy(i1))
        np.testing.assert_array_equal(backend.to_numpy(d0), backend.to_numpy(d1))
        _, i_ref = brute_force(x_np, x_np, 9, exclude_self=riq)
        np.testing.assert_array_equal(backend.to_numpy(i0), i_ref)


def test_small_memory_budget_tiles_the_reference(backend):
    x_np = _data(4, 40)
    x = backend.asarray(x_np, backend.xp.float64)
    assert plan_blocks(40, 40, 3, 24, memory_budget=24 * 40 * 10)[1] == 40  # fits: no tiles
    rows, tile = plan_blocks(10_000, 1_000_000, 100, 24, memory_budget=256 * 2**20)
    assert rows * (tile + 100) * 24 <= 256 * 2**20 and tile < 1_000_000
    d0, i0 = knn(x, x, 5, ref_includes_query=True)
    d1, i1 = knn(x, x, 5, ref_includes_query=True, memory_budget=200)
    np.testing.assert_array_equal(backend.to_numpy(i0), backend.to_numpy(i1))
    np.testing.assert_allclose(backend.to_numpy(d0), backend.to_numpy(d1))


@pytest.mark.parametrize("dist_cls", [CosineSimilarity, DotProductSimilarity])
def test_similarity_returns_largest_first(backend, dist_cls):
    q_np, r_np = _data(5, 7), _data(6, 15)
    q, r = backend.asarray(q_np, backend.xp.float64), backend.asarray(r_np, backend.xp.float64)
    dist = dist_cls() if dist_cls is CosineSimilarity else dist_cls(normalize_embeddings=False)
    d, i = knn(q, r, 4, distance=dist)
    if dist_cls is CosineSimilarity:
        qn = q_np / np.linalg.norm(q_np, axis=1, keepdims=True)
        rn = r_np / np.linalg.norm(r_np, axis=1, keepdims=True)
    else:
        qn, rn = q_np, r_np
    d_ref, i_ref = brute_force(qn, rn, 4, largest=True)
    np.testing.assert_array_equal(backend.to_numpy(i), i_ref)
    np.testing.assert_allclose(backend.to_numpy(d), d_ref, rtol=1e-9, atol=1e-9)
    assert np.all(np.diff(backend.to_numpy(d), axis=1) <= 0)


def test_non_euclidean_distance(backend):
    q_np, r_np = _data(7, 5), _data(8, 11)
    q, r = backend.asarray(q_np, backend.xp.float64), backend.asarray(r_np, backend.xp.float64)
    d, i = knn(q, r, 3, distance=LpDistance(p=1, normalize_embeddings=False))
    full = np.abs(q_np[:, None, :] - r_np[None, :, :]).sum(-1)
    i_ref = np.argsort(full, axis=1, kind="stable")[:, :3]
    np.testing.assert_array_equal(backend.to_numpy(i), i_ref)
    np.testing.assert_allclose(backend.to_numpy(d), np.take_along_axis(full, i_ref, axis=1), rtol=1e-9)


def test_k_zero_and_empty_query(backend, dtype):
    xp = backend.xp
    r = backend.asarray(_data(9, 6), dtype)
    d, i = knn(r, r, 0)
    assert_array(d, backend, dtype=dtype, shape=(6, 0))
    assert_array(i, backend, dtype=xp.int64, shape=(6, 0))
    d, i = knn(r[:0, ...], r, 3)
    assert_array(d, backend, dtype=dtype, shape=(0, 3))
    assert_array(i, backend, dtype=xp.int64, shape=(0, 3))


def test_knn_full_k_with_self(backend):
    x = backend.asarray(_data(10, 8), backend.xp.float64)
    _, i = knn(x, x, 7, ref_includes_query=True)
    rows = backend.to_numpy(i)
    for q in range(8):
        assert sorted(rows[q].tolist()) == [j for j in range(8) if j != q]


def test_exact_knn_follows_pml_protocol(backend):
    x_np = _data(11, 12)
    x = backend.asarray(x_np, backend.xp.float64)
    f = ExactKNN(block_size=5)
    assert isinstance(f, KNN)
    d1, i1 = f(x, 3, x, True)
    d2, i2 = f(x, 3, None, True)
    d3, i3 = knn(x, x, 3, ref_includes_query=True)
    for a, b in ((i1, i3), (i2, i3)):
        np.testing.assert_array_equal(backend.to_numpy(a), backend.to_numpy(b))
    # other block shapes may round the GEMM differently
    np.testing.assert_allclose(backend.to_numpy(d1), backend.to_numpy(d3), rtol=1e-12)


def test_no_autograd_graph_on_torch():
    torch = pytest.importorskip("torch")
    x = torch.randn(10, 3, dtype=torch.float64, requires_grad=True)
    d, i = knn(x, x, 2, ref_includes_query=True)
    assert not d.requires_grad and i.dtype == torch.int64


@pytest.mark.parametrize(
    "call,err,match",
    [
        (lambda q, r: knn(q, r, 21), ValueError, "k=21 is larger"),
        (lambda q, r: knn(q, q, 10, ref_includes_query=True), ValueError, "k=10 is larger"),
        (lambda q, r: knn(q, r, -1), ValueError, "k must be >= 0"),
        (lambda q, r: knn(q, r, 2.0), TypeError, "k must be an int"),
        (lambda q, r: knn(q, r, True), TypeError, "k must be an int"),
        (lambda q, r: knn(q, r[:, :2], 2), ValueError, "features"),
        (lambda q, r: knn(r, q, 2, ref_includes_query=True), ValueError, "ref_includes_query"),
        (lambda q, r: knn(q, r, 2, block_size=0), ValueError, "block_size"),
        (lambda q, r: knn(q, r, 2, ref_block_size=-3), ValueError, "ref_block_size"),
        (lambda q, r: knn(q[0, ...], r, 2), ValueError, "2-D"),
        (lambda q, r: knn(q, r, 2, distance="euclidean"), TypeError, "distance"),
    ],
)
def test_bad_inputs(backend, call, err, match):
    q = backend.asarray(_data(12, 10))
    r = backend.asarray(_data(13, 20))
    with pytest.raises(err, match=match):
        call(q, r)


def test_nan_and_integer_inputs(backend):
    x_np = _data(14, 6)
    x_np[2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        knn(backend.asarray(x_np), backend.asarray(_data(15, 6)), 2)
    with pytest.raises(ValueError, match="NaN"):
        knn(backend.asarray(_data(15, 6)), backend.asarray(x_np), 2)
    with pytest.raises(TypeError, match="floating"):
        knn(backend.asarray(np.ones((3, 2), dtype=np.int64)), backend.asarray(np.ones((3, 2), dtype=np.int64)), 1)


def test_faiss_knn_matches_exact(backend):
    pytest.importorskip("faiss")
    q_np, r_np = _data(16, 9), _data(17, 30)
    q, r = backend.asarray(q_np, backend.xp.float32), backend.asarray(r_np, backend.xp.float32)
    d, i = FaissKNN()(q, 5, r, False)
    assert_array(i, backend, dtype=backend.xp.int64, shape=(9, 5))
    assert_array(d, backend, dtype=backend.xp.float32, shape=(9, 5))
    d_ref, i_ref = brute_force(q_np, r_np, 5)
    np.testing.assert_array_equal(backend.to_numpy(i), i_ref)
    np.testing.assert_allclose(backend.to_numpy(d), d_ref**2, rtol=1e-4)  # faiss: squared L2
    x = backend.asarray(r_np, backend.xp.float32)
    _, i = FaissKNN()(x, 4, None, True)
    _, i_ref = brute_force(r_np, r_np, 4, exclude_self=True)
    np.testing.assert_array_equal(backend.to_numpy(i), i_ref)


def test_faiss_missing_gives_clear_import_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "faiss", None)
    x = np.ones((3, 2))
    with pytest.raises(ImportError, match="pip install faiss-cpu"):
        FaissKNN()(x, 1, x, False)
