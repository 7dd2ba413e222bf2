"""The pair losses' per-anchor log-sum-exps on every backend, against NumPy loops."""

from __future__ import annotations

import numpy as np
import pytest

from agnostic_ml.losses import lifted_structure_losses, ntxent_losses, tuplet_margin_losses
from agnostic_ml.losses._grouped import anchor_negatives_logsumexp, grouped_logsumexp, rows_logsumexp
from agnostic_ml.distances import LpDistance
from helpers import assert_array, tol

RNG = np.random.default_rng(0)
N, M = 7, 9
MAT = RNG.standard_normal((N, M))
# negative pairs with repeats (a pair listed twice counts twice); row 5 has none
A2 = np.array([0, 0, 0, 1, 1, 3, 3, 3, 3, 6, 2])
NN = np.array([1, 1, 4, 0, 8, 2, 2, 2, 7, 6, 3])
A1 = np.array([0, 1, 5, 3, 6, 2, 0])
P = np.array([2, 3, 1, 0, 8, 5, 2])  # reference indices; P values >= N never match a2


def _loop_lse(values, groups, queries):
    out, found = [], []
    for q in queries:
        sel = values[groups == q]
        found.append(sel.size > 0)
        out.append(np.log(np.sum(np.exp(sel))) if sel.size else 0.0)
    return np.array(out), np.array(found)


@pytest.mark.parametrize("spread", [1.0, 300.0])
def test_grouped_and_rows_logsumexp(backend, dtype, spread):
    xp = backend.xp
    values = MAT[A2, NN] * spread
    want, want_found = _loop_lse(values, A2, A1)
    got, found = grouped_logsumexp(backend.asarray(values, dtype), backend.asarray(A2), backend.asarray(A1))
    assert_array(got, backend, dtype=dtype, shape=(A1.size,))
    np.testing.assert_allclose(backend.to_numpy(got), want, **tol(dtype, xp))
    np.testing.assert_array_equal(backend.to_numpy(found), want_found)
    counts = np.zeros((N, M))
    np.add.at(counts, (A2, NN), 1.0)
    rows, rows_found = rows_logsumexp(backend.asarray(MAT * spread, dtype), backend.asarray(counts, dtype))
    want_rows, want_rows_found = _loop_lse(values, A2, np.arange(N))
    assert_array(rows, backend, dtype=dtype, shape=(N,))
    np.testing.assert_allclose(backend.to_numpy(rows), want_rows, **tol(dtype, xp))
    np.testing.assert_array_equal(backend.to_numpy(rows_found), want_rows_found)


def test_matrix_and_pair_values_agree(backend, dtype):
    xp = backend.xp
    mat = backend.asarray(np.abs(MAT), dtype)
    tup = tuple(backend.asarray(t) for t in (A1, P, A2, NN))
    pos = backend.asarray(np.abs(MAT)[A1, P], dtype)
    neg = backend.asarray(np.abs(MAT)[A2, NN], dtype)
    for q in (tup[0], tup[1]):
        by_mat = anchor_negatives_logsumexp(lambda v: -v, tup, q, mat=mat)
        by_pairs = anchor_negatives_logsumexp(lambda v: -v, tup, q, neg_pairs=neg)
        np.testing.assert_allclose(backend.to_numpy(by_mat[0]), backend.to_numpy(by_pairs[0]), **tol(dtype, xp))
        np.testing.assert_array_equal(backend.to_numpy(by_mat[1]), backend.to_numpy(by_pairs[1]))
    d = LpDistance()
    for f in (
        lambda **k: ntxent_losses(pos, tup, 0.3, is_inverted=False, **k),
        lambda **k: tuplet_margin_losses(pos / 4, tup, 0.1, 8.0, **k),
        lambda **k: lifted_structure_losses(pos, tup, 0.0, 1.0, d, **k),
    ):
        a, b = f(mat=mat), f(neg_pairs=neg)
        assert_array(a, backend, dtype=dtype, shape=(A1.size,))
        np.testing.assert_allclose(backend.to_numpy(a), backend.to_numpy(b), **tol(dtype, xp))


def test_ntxent_against_loop(backend, dtype):
    xp = backend.xp
    s = np.tanh(MAT)
    tup = tuple(backend.asarray(t) for t in (A1, P, A2, NN))
    got = ntxent_losses(backend.asarray(s[A1, P], dtype), tup, 0.2, is_inverted=True, mat=backend.asarray(s, dtype))
    want = []
    for a, p in zip(A1, P):
        negs = s[A2[A2 == a], NN[A2 == a]] / 0.2
        x = s[a, p] / 0.2
        want.append(np.logaddexp(x, np.log(np.sum(np.exp(negs)))) - x if negs.size else 0.0)
    np.testing.assert_allclose(backend.to_numpy(got), np.array(want), **tol(dtype, xp))
