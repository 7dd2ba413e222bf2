"""agnostic_ml.regularizers on every backend: the formulas against NumPy, the classes' 0-D results.

Also the two array-API helpers the classification losses need: ``inv`` (native ``linalg``
and the pure-standard Gauss-Jordan fallback that array-api-strict's strictest mode uses) and
``assign_values`` (in-place parameter updates).
"""

from __future__ import annotations

import numpy as np
import pytest

from agnostic_ml import regularizers as R
from agnostic_ml._array_api._linalg import _gauss_jordan_inv, inv
from agnostic_ml._array_api import assign_values
from helpers import assert_array, tol

RNG = np.random.default_rng(0)
X = RNG.normal(size=(12, 5))  # 12 rows: 4 classes x 3 centres for SparseCenters
X[3] = 0.0  # a zero row


def _unit(x):
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _np_regular_face(x):
    cos = _unit(x) @ _unit(x).T
    np.fill_diagonal(cos, -np.inf)
    return cos.max(axis=1)


def _np_sparse_centers(x, num_classes, per_class):
    cos = _unit(x) @ _unit(x).T
    vals = []
    for c in range(num_classes):
        for i in range(per_class):
            for j in range(i + 1, per_class):
                r, k = c * per_class + i, c * per_class + j
                vals.append(np.sqrt(2.0 + np.finfo(x.dtype).tiny - min(2 * cos[r, k], 2.0)))
    return np.array(vals)


def _np_center_invariant(x):
    sq = np.sum(x * x, axis=1)
    return (sq - sq.mean()) ** 2 / 4


#: (regularizer factory, NumPy expected value)
CASES = {
    "lp": (lambda: R.LpRegularizer(), lambda x: np.linalg.norm(x, axis=1).mean()),
    "lp_p1_power3": (lambda: R.LpRegularizer(p=1, power=3), lambda x: (np.abs(x).sum(axis=1) ** 3).mean()),
    "lp_p3": (lambda: R.LpRegularizer(p=3), lambda x: (np.sum(np.abs(x) ** 3, axis=1) ** (1 / 3)).mean()),
    "zero_mean": (lambda: R.ZeroMeanRegularizer(), lambda x: np.abs(x.sum(axis=1)).mean()),
    "center_invariant": (lambda: R.CenterInvariantRegularizer(), lambda x: _np_center_invariant(x).mean()),
    "regular_face": (lambda: R.RegularFaceRegularizer(), lambda x: _np_regular_face(x).mean()),
    "sparse_centers": (
        lambda: R.SparseCentersRegularizer(4, 3),
        lambda x: _np_sparse_centers(x, 4, 3).sum() / (2 * 4 * 3),
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_regularizer_values(name, backend, dtype):
    make, expected = CASES[name]
    x = X if name not in ("regular_face", "sparse_centers") else X + 0.1  # no zero row for cosines
    got = make()(backend.asarray(x, dtype))
    assert_array(got, backend, dtype=dtype, shape=())
    np_dtype = np.float64 if dtype == backend.xp.float64 else np.float32
    ref = expected(x.astype(np_dtype).astype(np.float64))
    t = tol(dtype, backend.xp)
    assert float(backend.to_numpy(got)) == pytest.approx(ref, rel=10 * t["rtol"], abs=10 * t["atol"])


def test_formula_functions(backend, dtype):
    xb = backend.asarray(X + 0.1, dtype)
    t = {k: 10 * v for k, v in tol(dtype, backend.xp).items()}
    x = (X + 0.1).astype(np.float64)
    out = R.lp_regularization(xb, p=2, power=2)
    assert_array(out, backend, dtype=dtype, shape=(12,))
    np.testing.assert_allclose(backend.to_numpy(out), np.sum(x * x, axis=1), **t)
    np.testing.assert_allclose(backend.to_numpy(R.zero_mean_regularization(xb)), np.abs(x.sum(axis=1)), **t)
    norms = backend.asarray(np.linalg.norm(x, axis=1), dtype)
    np.testing.assert_allclose(backend.to_numpy(R.center_invariant_regularization(norms)), _np_center_invariant(x), **t)
    cos = backend.asarray(_unit(x) @ _unit(x).T, dtype)
    np.testing.assert_allclose(backend.to_numpy(R.regular_face_regularization(cos)), _np_regular_face(x), **t)
    rows, cols = np.nonzero(np.triu(np.ones((3, 3), dtype=bool), k=1))
    got = R.sparse_centers_regularization(cos, backend.asarray(rows), backend.asarray(cols))
    assert_array(got, backend, dtype=dtype, shape=(3,))
    np.testing.assert_allclose(backend.to_numpy(got), _np_sparse_centers(x[:3], 1, 3), **t)


def test_reducer_receives_row_indices_as_labels(backend):
    """PML's BaseRegularizer passes arange(N) as the labels of the reduction."""
    seen = {}

    class Spy(R.LpRegularizer):
        pass

    reg = Spy()
    original = reg.reducer.forward

    def forward(loss_dict, embeddings, labels):
        seen["labels"] = backend.to_numpy(labels)
        return original(loss_dict, embeddings, labels)

    reg.reducer.forward = forward
    reg(backend.asarray(X, backend.xp.float64))
    assert seen["labels"].tolist() == list(range(X.shape[0]))


def test_sparse_centers_rejects_a_wrong_number_of_rows(backend):
    with pytest.raises(ValueError, match="centres"):
        R.SparseCentersRegularizer(5, 3)(backend.asarray(X, backend.xp.float64))


def test_inverse_native_and_fallback(backend, dtype):
    a = RNG.normal(size=(7, 7)) + 3 * np.eye(7)
    a[[0, 4]] = a[[4, 0]]  # a row order that needs pivoting
    ab = backend.asarray(a, dtype)
    t = {k: 100 * v for k, v in tol(dtype, backend.xp).items()}
    for fn in (inv, lambda m: _gauss_jordan_inv(m, backend.xp, backend.device)):
        got = fn(ab)
        assert_array(got, backend, dtype=dtype, shape=(7, 7))
        np.testing.assert_allclose(backend.to_numpy(got), np.linalg.inv(a), **t)
    with pytest.raises(ValueError, match="square"):
        inv(backend.asarray(np.ones((2, 3)), dtype))


def test_gauss_jordan_with_a_zero_leading_pivot(backend):
    a = np.array([[0.0, 2.0, 1.0], [1.0, 1.0, 0.0], [3.0, 0.0, 1.0]])
    got = _gauss_jordan_inv(backend.asarray(a, backend.xp.float64), backend.xp, backend.device)
    np.testing.assert_allclose(backend.to_numpy(got), np.linalg.inv(a), rtol=1e-12, atol=1e-12)


def test_assign_values_keeps_dtype_and_object(backend):
    w = backend.asarray(np.zeros((2, 3)), backend.xp.float32)
    assign_values(w, backend.asarray(np.arange(6.0).reshape(2, 3), backend.xp.float64))
    assert_array(w, backend, dtype=backend.xp.float32, shape=(2, 3))
    assert backend.to_numpy(w).tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    with pytest.raises(ValueError, match="shape"):
        assign_values(w, backend.asarray(np.zeros(6), backend.xp.float32))
