"""Distance matrices on every backend: namespace, device, dtype and values against NumPy float64."""

import numpy as np
import pytest

from agnostic_ml.distances import CosineSimilarity, DotProductSimilarity, LpDistance, SNRDistance
from conftest import assert_array, tol


def _ref_lp(q, r, p, normalize, power):
    if normalize:
        q = q / np.maximum(np.linalg.norm(q, ord=p, axis=1, keepdims=True), 1e-12)
        r = r / np.maximum(np.linalg.norm(r, ord=p, axis=1, keepdims=True), 1e-12)
    d = np.linalg.norm(q[:, None, :] - r[None, :, :], ord=p, axis=2)
    return d**power


@pytest.mark.parametrize("p", [1, 2, 3])
@pytest.mark.parametrize("normalize", [True, False])
def test_lp_distance_matches_numpy(backend, dtype, p, normalize):
    rng = np.random.default_rng(0)
    q, r = rng.normal(size=(7, 5)), rng.normal(size=(4, 5))
    dist = LpDistance(p=p, normalize_embeddings=normalize, power=2 if p == 3 else 1)
    out = dist(backend.asarray(q, dtype), backend.asarray(r, dtype))
    assert_array(out, backend, dtype=dtype, shape=(7, 4))
    expected = _ref_lp(q, r, p, normalize, 2 if p == 3 else 1)
    np.testing.assert_allclose(backend.to_numpy(out), expected, **tol(dtype, backend.xp))


def test_self_matrix_has_zero_diagonal(backend, dtype):
    x = backend.asarray(np.random.default_rng(1).normal(size=(6, 3)), dtype)
    d = backend.to_numpy(LpDistance()(x))
    np.testing.assert_array_equal(np.diag(d), 0)


def test_similarities(backend, dtype):
    rng = np.random.default_rng(2)
    q = rng.normal(size=(5, 4))
    qn = q / np.linalg.norm(q, axis=1, keepdims=True)
    x = backend.asarray(q, dtype)
    t = tol(dtype, backend.xp)
    np.testing.assert_allclose(backend.to_numpy(CosineSimilarity()(x)), qn @ qn.T, **t)
    np.testing.assert_allclose(backend.to_numpy(DotProductSimilarity(normalize_embeddings=False)(x)), q @ q.T, **t)
    snr = backend.to_numpy(SNRDistance(normalize_embeddings=False)(x))
    ref = np.var(q[:, None, :] - q[None, :, :], axis=2, ddof=1) / np.var(q, axis=1, ddof=1)[:, None]
    np.testing.assert_allclose(snr, ref, rtol=t["rtol"] * 10, atol=t["atol"] * 10)
