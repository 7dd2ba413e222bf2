"""Hypothesis properties of agnostic_ml.tuples (small N, bounded examples).

- all pairs / all triplets equal brute-force enumeration (as sets) and the per-class counts;
- every tuple satisfies its label relation;
- pairs -> triplets -> pairs round trip (as sets);
- the same result on every CPU backend;
- random triplets: same seed same output, valid labels, zero-weight negatives never drawn.
"""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from agnostic_ml import tuples
from helpers import cpu_backends

BACKENDS = cpu_backends()

labels_st = st.lists(st.integers(0, 5), min_size=0, max_size=24).map(np.array)
nonempty_labels_st = st.lists(st.integers(0, 5), min_size=1, max_size=24).map(np.array)
ref_st = st.one_of(st.none(), st.lists(st.integers(0, 6), min_size=0, max_size=20).map(np.array))


def _np(out):
    return [np.asarray(x) for x in out]


def _set(*cols):
    return set(zip(*(c.tolist() for c in cols)))


def _brute(lab, ref):
    self_ref = ref is None
    r = lab if self_ref else ref
    pos = {(i, j) for i in range(len(lab)) for j in range(len(r)) if lab[i] == r[j] and not (self_ref and i == j)}
    neg = {(i, j) for i in range(len(lab)) for j in range(len(r)) if lab[i] != r[j]}
    trip = {
        (a, p, n)
        for a, p, n in itertools.product(range(len(lab)), range(len(r)), range(len(r)))
        if (a, p) in pos and (a, n) in neg
    }
    return pos, neg, trip


@given(labels_st, ref_st)
def test_all_pairs_and_triplets_equal_brute_force(lab, ref):
    pos, neg, trip = _brute(lab, ref)
    a1, p, a2, n = _np(tuples.get_all_pairs_indices(lab, ref))
    a, tp, tn = _np(tuples.get_all_triplets_indices(lab, ref))
    assert _set(a1, p) == pos and len(a1) == len(pos)
    assert _set(a2, n) == neg and len(a2) == len(neg)
    assert _set(a, tp, tn) == trip and len(a) == len(trip)
    assert list(zip(a.tolist(), tp.tolist(), tn.tolist())) == sorted(trip)  # lexicographic, as PML
    r = lab if ref is None else ref
    assert (lab[a1] == r[p]).all() and (lab[a2] != r[n]).all()
    assert (lab[a] == r[tp]).all() and (lab[a] != r[tn]).all()
    if ref is None:
        assert (a1 != p).all() and (a != tp).all()


@given(labels_st)
def test_counts_follow_class_sizes(lab):
    sizes = np.bincount(lab) if len(lab) else np.zeros(0, dtype=np.int64)
    n = len(lab)
    a1, _, a2, _ = tuples.get_all_pairs_indices(lab)
    a, _, _ = tuples.get_all_triplets_indices(lab)
    assert len(a1) == int(np.sum(sizes * (sizes - 1)))
    assert len(a2) == int(np.sum(sizes * (n - sizes)))
    assert len(a) == int(np.sum(sizes * (sizes - 1) * (n - sizes)))


@given(nonempty_labels_st, st.data())
def test_pairs_triplets_pairs_round_trip(lab, data):
    a1, p, a2, n = _np(tuples.get_all_pairs_indices(lab))
    # any subset of the pairs (with repetitions) round-trips on the anchors that have both kinds
    keep_pos = data.draw(st.lists(st.integers(0, max(len(a1) - 1, 0)), max_size=30)) if len(a1) else []
    keep_neg = data.draw(st.lists(st.integers(0, max(len(a2) - 1, 0)), max_size=30)) if len(a2) else []
    sub = (a1[keep_pos], p[keep_pos], a2[keep_neg], n[keep_neg])
    for pairs in ((a1, p, a2, n), tuple(np.asarray(x, dtype=np.int64) for x in sub)):
        ta, tp, tn = _np(tuples.convert_to_triplets(pairs, lab))
        assert len(ta) == sum(int(np.sum(pairs[2] == x)) for x in pairs[0])
        b1, bp, b2, bn = _np(tuples.convert_to_pairs((ta, tp, tn), lab))
        both = set(pairs[0].tolist()) & set(pairs[2].tolist())
        assert _set(b1, bp) == {(x, y) for x, y in _set(pairs[0], pairs[1]) if x in both}
        assert _set(b2, bn) == {(x, y) for x, y in _set(pairs[2], pairs[3]) if x in both}


@given(labels_st, ref_st, st.integers(0, 2**31 - 1))
def test_same_result_on_every_backend(lab, ref, seed):
    expected = None
    for b in BACKENDS:
        with b.context():
            lab_b = b.asarray(lab.astype(np.int64))
            ref_b = None if ref is None else b.asarray(ref.astype(np.int64))
            out = (
                *tuples.get_all_pairs_indices(lab_b, ref_b),
                *tuples.get_all_triplets_indices(lab_b, ref_b),
                *tuples.get_random_triplet_indices(lab_b, ref_b, t_per_anchor=3, rng=seed),
            )
            got = [b.to_numpy(x) for x in out]
        if expected is None:
            expected = got
        else:
            for x, y in zip(expected, got):
                np.testing.assert_array_equal(x, y)


@given(nonempty_labels_st, ref_st, st.integers(0, 2**31 - 1), st.one_of(st.none(), st.integers(0, 5)), st.data())
def test_random_triplets_properties(lab, ref, seed, t, data):
    r = lab if ref is None else ref
    zero_frac = data.draw(st.sampled_from([0.0, 0.5, 0.9]))
    wrng = np.random.default_rng(seed)
    w = wrng.random((len(lab), len(r))) * (wrng.random((len(lab), len(r))) >= zero_frac)
    for weights in (None, w):
        a, p, n = _np(tuples.get_random_triplet_indices(lab, ref, t_per_anchor=t, weights=weights, rng=seed))
        again = _np(tuples.get_random_triplet_indices(lab, ref, t_per_anchor=t, weights=weights, rng=np.random.default_rng(seed)))
        for x, y in zip((a, p, n), again):
            np.testing.assert_array_equal(x, y)
        assert len(a) == len(p) == len(n)
        assert (lab[a] == r[p]).all() and (lab[a] != r[n]).all()
        if ref is None:
            assert (a != p).all()
        if weights is not None and len(a):
            assert (weights[a, n] > 0).all()  # zero-weight negatives are never drawn
        # anchors: valid classes only, each with k triplets
        sizes = {c: int(np.sum(r == c)) for c in set(lab.tolist())}
        for anchor in set(a.tolist()):
            c = lab[anchor]
            assert sizes[c] >= (2 if ref is None else 1) and sizes[c] < len(r)
            assert int(np.sum(a == anchor)) == (sizes[c] if t is None else t)
