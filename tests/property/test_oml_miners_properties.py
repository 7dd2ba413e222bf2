"""Hypothesis invariants of the OML 4.0 miners, on every backend, with the public testing kit.

Batches come from :func:`agnostic_ml.testing.strategies.miner_batches` (grid embeddings,
so distances tie exactly; duplicated rows; one class, unique labels, N = 0 and 1; with
and without a reference set). Every output goes through
:func:`agnostic_ml.testing.check_miner_output` (namespace, device, dtype, ranges, no self
pairs, label relations, no duplicates); each miner's own selection rule is then checked
against a NumPy loop over the same distance matrix (OML's semantics, ties to the lower
index).
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from agnostic_ml.miners import (
    AllTripletsMiner,
    HardClusterMiner,
    HardTripletsMiner,
    MinerWithBank,
    NHardTripletsMiner,
    TripletMinerWithMemory,
)
from agnostic_ml.testing import check_miner, check_miner_output
from agnostic_ml.tuples import get_all_triplets_indices
from helpers import miner_batches_on, nhard_reference, rows, to_host

N_MAX = 16


def batches(backend, **kw):
    return miner_batches_on(backend, **{"max_n": N_MAX, **kw})


n_spec = st.one_of(
    st.integers(1, 6),
    st.tuples(st.integers(1, 4), st.integers(0, 3)).map(lambda t: (t[0], t[0] + t[1])),
)


@settings(max_examples=20)
@given(data=st.data())
def test_all_triplets(backend, data):
    batch = data.draw(batches(backend))
    full = check_miner(AllTripletsMiner(), *batch.args())
    got = rows(to_host(backend, full))
    want = rows(to_host(backend, get_all_triplets_indices(batch.labels, batch.ref_labels)))
    assert got == want  # every valid triplet, lexicographic
    k = data.draw(st.integers(1, 40))
    seed = data.draw(st.integers(0, 2**16))
    sub = check_miner(AllTripletsMiner(max_output_triplets=k, rng=seed), *batch.args())
    sub_rows = rows(to_host(backend, sub))
    assert len(sub_rows) == min(k, len(want))
    assert set(sub_rows) <= set(want) and sub_rows == sorted(sub_rows)
    again = AllTripletsMiner(max_output_triplets=k, rng=seed)(*batch.args())
    assert rows(to_host(backend, again)) == sub_rows


@settings(max_examples=20)
@given(data=st.data())
def test_nhard_triplets(backend, data):
    batch = data.draw(batches(backend))
    miner = NHardTripletsMiner(data.draw(n_spec), data.draw(n_spec))

    def rule(mat, t):
        lab = backend.to_numpy(batch.labels)
        rlab = lab if batch.ref_labels is None else backend.to_numpy(batch.ref_labels)
        want = nhard_reference(mat, lab, rlab, miner.positive_slice, miner.negative_slice, not batch.has_ref)
        return np.full(t[0].shape, rows(t) == want, dtype=bool)

    out = check_miner(miner, *batch.args(), condition=rule)
    # at most |positive slice| x |negative slice| triplets per anchor
    a, p, n = to_host(backend, out)
    if a.size:
        counts = np.bincount(a)
        lo_p, hi_p = miner.positive_slice
        lo_n, hi_n = miner.negative_slice
        assert counts.max() <= (hi_p - lo_p) * (hi_n - lo_n)


@settings(max_examples=20)
@given(data=st.data())
def test_hard_triplets(backend, data):
    batch = data.draw(batches(backend))
    lab = backend.to_numpy(batch.labels)
    rlab = lab if batch.ref_labels is None else backend.to_numpy(batch.ref_labels)

    def rule(mat, t):
        a, p, n = t
        ok = []
        for i, j, k in zip(a, p, n):
            pos = [c for c in range(mat.shape[1]) if rlab[c] == lab[i] and (batch.has_ref or c != i)]
            neg = [c for c in range(mat.shape[1]) if rlab[c] != lab[i]]
            ok.append(
                mat[i, j] == max(mat[i, pos])
                and mat[i, k] == min(mat[i, neg])
                and j == min(c for c in pos if mat[i, c] == mat[i, j])  # ties: the lower index
                and k == min(c for c in neg if mat[i, c] == mat[i, k])
            )
        return np.asarray(ok, dtype=bool)

    out = check_miner(HardTripletsMiner(), *batch.args(), condition=rule)
    a = to_host(backend, out)[0]
    eligible = [
        i
        for i in range(lab.shape[0])
        if np.any((rlab == lab[i]) & (batch.has_ref | (np.arange(rlab.shape[0]) != i))) and np.any(rlab != lab[i])
    ]
    assert a.tolist() == eligible  # one triplet per anchor that has a positive and a negative


@settings(max_examples=20)
@given(data=st.data())
def test_hard_cluster(backend, data):
    batch = data.draw(batches(backend, with_ref=False))
    miner = HardClusterMiner()
    t = miner.mine_extended(batch.embeddings, batch.labels)
    check_miner_output(t.indices, t.labels, embeddings=t.embeddings, expected_kind="triplets")
    a, p, n = to_host(backend, t.indices)
    assert rows((a, p, n)) == rows(to_host(backend, miner(batch.embeddings, batch.labels)))
    e = backend.to_numpy(t.embeddings).astype(np.float64)
    lab = backend.to_numpy(batch.labels)
    nb = lab.shape[0]
    classes, counts = np.unique(lab, return_counts=True)
    anchors = [nb + c for c in range(classes.shape[0]) if counts[c] >= 2] if classes.shape[0] >= 2 else []
    assert a.tolist() == anchors and np.all(p < nb) and np.all(n >= nb)
    tol = 1e-4
    for i, j, k in zip(a, p, n):
        members = np.nonzero(lab == classes[i - nb])[0]
        np.testing.assert_allclose(e[i], e[members].mean(axis=0), atol=tol)
        d = np.linalg.norm(e[members] - e[i], axis=1)
        assert np.linalg.norm(e[j] - e[i]) >= d.max() - tol  # farthest sample from its centre
        dc = [np.linalg.norm(e[nb + c] - e[i]) for c in range(classes.shape[0]) if nb + c != i]
        assert np.linalg.norm(e[k] - e[i]) <= min(dc) + tol  # nearest other centre


def batch_sequences(backend, data, size):
    steps = data.draw(st.integers(1, 4))
    dim = data.draw(st.integers(2, 4))
    return [data.draw(batches(backend, min_n=size, max_n=size, dims=dim, with_ref=False)) for _ in range(steps)]


@settings(max_examples=15)
@given(data=st.data())
def test_miner_with_bank_equals_mining_the_concatenation(backend, data):
    size = data.draw(st.integers(1, 8))
    bank_batches = data.draw(st.integers(1, 2))
    n_pos, n_neg = data.draw(n_spec), data.draw(n_spec)
    miner = MinerWithBank(bank_batches, NHardTripletsMiner(n_pos, n_neg))
    for batch in batch_sequences(backend, data, size):
        t = miner.mine_extended(batch.embeddings, batch.labels)
        out = check_miner_output(t.indices, t.labels, embeddings=t.embeddings)
        assert np.all(out[0] < size)  # anchors are batch rows
        plain = NHardTripletsMiner(n_pos, n_neg)(t.embeddings, t.labels)
        assert rows(out) == [r for r in rows(to_host(backend, plain)) if r[0] < size]


@settings(max_examples=15)
@given(data=st.data())
def test_triplet_miner_with_memory(backend, data):
    size = data.draw(st.integers(1, 8))
    k = data.draw(st.integers(1, 4))
    miner = TripletMinerWithMemory(data.draw(st.integers(1, 3)), k, rng=data.draw(st.integers(0, 99)))
    for batch in batch_sequences(backend, data, size):
        t = miner.mine_extended(batch.embeddings, batch.labels)
        # parts 2 and 3 are drawn with replacement, so duplicates are allowed there
        out = check_miner_output(t.indices, t.labels, embeddings=t.embeddings, allow_duplicates=True)
        orig = backend.to_numpy(t.is_original).astype(bool)
        original = [r for r, o in zip(rows(out), orig) if o]
        assert original == rows(to_host(backend, get_all_triplets_indices(batch.labels)))
        n_extra = len(original) * (k - 1) // 2
        assert int((~orig).sum()) <= 2 * n_extra
        assert np.all(orig[int((~orig).sum()):])  # bank triplets first, as in OML
