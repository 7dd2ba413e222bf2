"""agnostic_ml.tuples on every backend: values against brute force, namespace/dtype/device, errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from agnostic_ml import tuples
from agnostic_ml._array_api import index_dtype
from helpers import assert_array, tol

LABELS = np.array([0, 1, 0, 2, 1, 0, 3, 2, 2])
REF = np.array([1, 0, 4, 2, 2, 0, 1])


def _idx(backend):
    return index_dtype(backend.xp, backend.device)


def _check_idx(out, backend, n=None):
    for x in out:
        assert_array(x, backend, dtype=_idx(backend), shape=None if n is None else (n,))


def _np(backend, out):
    return [backend.to_numpy(x) for x in out]


def _brute_pairs(lab, ref, self_ref):
    pos = [(i, j) for i in range(len(lab)) for j in range(len(ref)) if lab[i] == ref[j] and not (self_ref and i == j)]
    neg = [(i, j) for i in range(len(lab)) for j in range(len(ref)) if lab[i] != ref[j]]
    return pos, neg


def _brute_triplets(lab, ref, self_ref):
    return [
        (a, p, n)
        for a, p, n in itertools.product(range(len(lab)), range(len(ref)), range(len(ref)))
        if lab[a] == ref[p] and lab[a] != ref[n] and not (self_ref and a == p)
    ]


@pytest.mark.parametrize("with_ref", [False, True])
def test_matches_and_diffs(backend, with_ref):
    lab = backend.asarray(LABELS)
    ref = backend.asarray(REF) if with_ref else None
    m, d = tuples.get_matches_and_diffs(lab, ref)
    r = REF if with_ref else LABELS
    shape = (len(LABELS), len(r))
    assert_array(m, backend, dtype=backend.xp.bool, shape=shape)
    assert_array(d, backend, dtype=backend.xp.bool, shape=shape)
    same = LABELS[:, None] == r[None, :]
    expected = same & ~np.eye(*shape, dtype=bool) if not with_ref else same
    np.testing.assert_array_equal(backend.to_numpy(m), expected)
    np.testing.assert_array_equal(backend.to_numpy(d), ~same)


def test_ref_labels_that_is_labels_means_no_ref(backend):
    lab = backend.asarray(LABELS)
    m, _ = tuples.get_matches_and_diffs(lab, lab)
    assert not backend.to_numpy(m).diagonal().any()
    # an equal but distinct array is a separate reference set: the diagonal stays
    m2, _ = tuples.get_matches_and_diffs(lab, backend.asarray(LABELS.copy()))
    assert backend.to_numpy(m2).diagonal().all()


@pytest.mark.parametrize("with_ref", [False, True])
def test_all_pairs_row_major(backend, with_ref):
    ref = REF if with_ref else LABELS
    out = tuples.get_all_pairs_indices(backend.asarray(LABELS), backend.asarray(REF) if with_ref else None)
    _check_idx(out, backend)
    a1, p, a2, n = _np(backend, out)
    pos, neg = _brute_pairs(LABELS, ref, not with_ref)
    assert list(zip(a1.tolist(), p.tolist())) == pos  # row-major, as PML / torch.where
    assert list(zip(a2.tolist(), n.tolist())) == neg


@pytest.mark.parametrize("with_ref", [False, True])
@pytest.mark.parametrize("block", [None, 1, 7])
def test_all_triplets_lexicographic(backend, with_ref, block, monkeypatch):
    if block is not None:
        monkeypatch.setattr(tuples, "TRIPLET_BLOCK", block)
    ref = REF if with_ref else LABELS
    out = tuples.get_all_triplets_indices(backend.asarray(LABELS), backend.asarray(REF) if with_ref else None)
    expected = _brute_triplets(LABELS, ref, not with_ref)
    _check_idx(out, backend, len(expected))
    a, p, n = _np(backend, out)
    assert list(zip(a.tolist(), p.tolist(), n.tolist())) == expected


def test_all_triplets_count_formula(backend):
    lab = np.repeat(np.arange(5), [1, 2, 3, 4, 6])
    a, _, _ = tuples.get_all_triplets_indices(backend.asarray(lab))
    sizes = np.bincount(lab)
    assert a.shape[0] == int(np.sum(sizes * (sizes - 1) * (len(lab) - sizes)))


@pytest.mark.parametrize("labels", [[0, 1, 2, 3], [5, 5, 5], [7]])
def test_all_triplets_and_pairs_empty(backend, labels):
    lab = backend.asarray(np.array(labels))
    _check_idx(tuples.get_all_triplets_indices(lab), backend, 0)
    a1, p, a2, n = tuples.get_all_pairs_indices(lab)
    _check_idx((a1, p, a2, n), backend)
    if len(set(labels)) == len(labels):
        assert a1.shape[0] == 0


def test_host_labels_follow_like(backend):
    like = backend.asarray(np.zeros((len(LABELS), 2)), backend.xp.float32)
    out = tuples.get_all_triplets_indices(LABELS.tolist(), like=like)
    _check_idx(out, backend)
    ref = tuples.get_all_triplets_indices(LABELS)  # NumPy in, NumPy out
    assert all(isinstance(x, np.ndarray) for x in ref)
    for x, y in zip(_np(backend, out), ref):
        np.testing.assert_array_equal(x, y)


# -- random triplets ---------------------------------------------------------------------------
@pytest.mark.parametrize("with_ref", [False, True])
@pytest.mark.parametrize("t_per_anchor", [None, 3])
def test_random_triplets_valid_and_deterministic(backend, with_ref, t_per_anchor):
    lab = np.array([0, 0, 0, 1, 1, 2, 3, 3, 3, 3])
    ref = np.array([0, 1, 1, 3, 2, 2, 0, 5]) if with_ref else None
    out = tuples.get_random_triplet_indices(
        backend.asarray(lab), None if ref is None else backend.asarray(ref), t_per_anchor, rng=123
    )
    _check_idx(out, backend)
    a, p, n = _np(backend, out)
    r = lab if ref is None else ref
    assert (lab[a] == r[p]).all() and (lab[a] != r[n]).all()
    if ref is None:
        assert (a != p).all()
    # PML's counts: per valid anchor, t_per_anchor (default: class size in the reference set)
    sizes = {c: int((r == c).sum()) for c in set(lab.tolist())}
    min_size = 2 if ref is None else 1
    expected_anchors = [
        i for c in sorted(sizes) for i in np.nonzero(lab == c)[0] if sizes[c] >= min_size and sizes[c] < len(r)
    ]
    k = [sizes[lab[i]] if t_per_anchor is None else t_per_anchor for i in expected_anchors]
    np.testing.assert_array_equal(a, np.repeat(expected_anchors, k))
    # same seed -> same output, on every backend (NumPy is the reference)
    again = tuples.get_random_triplet_indices(lab, ref, t_per_anchor, rng=np.random.default_rng(123))
    for x, y in zip((a, p, n), again):
        np.testing.assert_array_equal(x, y)


def test_random_triplets_weights_respected(backend, dtype):
    lab = np.array([0, 0, 1, 1, 2, 2])
    w = np.ones((6, 6))
    w[:, 4] = 0.0  # never drawn
    w[2, :] = 0.0  # anchor 2: all-zero row -> skipped
    w[0, [2, 3, 5]] = [0.0, 0.0, 0.0]  # anchor 0 only has negative 4 -> zero sum -> skipped
    out = tuples.get_random_triplet_indices(backend.asarray(lab), weights=backend.asarray(w, dtype), rng=0, t_per_anchor=50)
    _check_idx(out, backend)
    a, p, n = _np(backend, out)
    assert set(a.tolist()) == {1, 3, 4, 5}
    assert 4 not in set(n.tolist())
    assert (lab[a] != lab[n]).all()


def test_random_triplets_weighted_distribution(backend):
    lab = np.array([0, 0, 1, 2, 3])
    w = np.zeros((5, 5))
    w[0, 2:] = [1.0, 3.0, 6.0]
    a, _, n = _np(backend, tuples.get_random_triplet_indices(backend.asarray(lab), weights=w, t_per_anchor=4000, rng=5))
    assert set(a.tolist()) == {0}
    freq = np.bincount(n, minlength=5)[2:] / len(n)
    np.testing.assert_allclose(freq, [0.1, 0.3, 0.6], atol=0.03)


def test_random_triplets_rng_forms(backend):
    lab = backend.asarray(np.array([0, 0, 1, 1, 1]))
    a = _np(backend, tuples.get_random_triplet_indices(lab, rng=np.random.default_rng(9)))
    b = _np(backend, tuples.get_random_triplet_indices(lab, rng=9))
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    gen = np.random.default_rng(1)
    c = _np(backend, tuples.get_random_triplet_indices(lab, t_per_anchor=20, rng=gen))
    d = _np(backend, tuples.get_random_triplet_indices(lab, t_per_anchor=20, rng=gen))
    assert any(not np.array_equal(x, y) for x, y in zip(c[1:], d[1:]))  # a Generator advances


def test_random_triplets_empty(backend):
    out = tuples.get_random_triplet_indices(backend.asarray(np.array([0, 1, 2])), rng=0)
    _check_idx(out, backend, 0)
    out = tuples.get_random_triplet_indices(backend.asarray(np.array([0, 0])), rng=0)  # no negatives
    _check_idx(out, backend, 0)
    out = tuples.get_random_triplet_indices(backend.asarray(np.array([0, 0, 1])), t_per_anchor=0, rng=0)
    _check_idx(out, backend, 0)


# -- conversions -------------------------------------------------------------------------------
def test_convert_to_pairs(backend):
    lab = backend.asarray(LABELS)
    a, p, n = (backend.asarray(np.array(x)) for x in ([0, 2, 0], [2, 0, 5], [1, 3, 6]))
    out = tuples.convert_to_pairs((a, p, n), lab)
    _check_idx(out, backend, 3)
    got = _np(backend, out)
    for x, y in zip(got, ([0, 2, 0], [2, 0, 5], [0, 2, 0], [1, 3, 6])):
        np.testing.assert_array_equal(x, y)
    pairs = tuples.convert_to_pairs((a, p, a, n), lab)
    assert pairs[0] is a and pairs[3] is n  # pairs pass through
    every = _np(backend, tuples.convert_to_pairs(None, lab))
    for x, y in zip(every, _np(backend, tuples.get_all_pairs_indices(lab))):
        np.testing.assert_array_equal(x, y)


def test_convert_pairs_to_triplets_order(backend):
    a1, p = [3, 0, 3, 1, 0], [7, 2, 5, 4, 5]
    a2, n = [0, 3, 0, 2, 3], [1, 0, 3, 0, 1]
    arr = [backend.asarray(np.array(x)) for x in (a1, p, a2, n)]
    out = tuples.convert_to_triplets(tuple(arr), backend.asarray(LABELS))
    expected = [(a1[i], p[i], n[j]) for i in range(len(a1)) for j in range(len(a2)) if a1[i] == a2[j]]
    _check_idx(out, backend, len(expected))
    got = _np(backend, out)
    assert list(zip(*(x.tolist() for x in got))) == expected


def test_convert_to_triplets_passthrough_and_none(backend):
    lab = backend.asarray(LABELS)
    trip = tuple(backend.asarray(np.array(x)) for x in ([0], [2], [1]))
    assert tuples.convert_to_triplets(trip, lab)[1] is trip[1]
    every = _np(backend, tuples.convert_to_triplets(None, lab, t_per_anchor="all"))
    for x, y in zip(every, _np(backend, tuples.get_all_triplets_indices(lab))):
        np.testing.assert_array_equal(x, y)
    rand = _np(backend, tuples.convert_to_triplets(None, lab, t_per_anchor=2, rng=4))
    for x, y in zip(rand, tuples.get_random_triplet_indices(LABELS, t_per_anchor=2, rng=4)):
        np.testing.assert_array_equal(x, y)
    empty = tuple(backend.asarray(np.zeros(0, dtype=np.int64)) for _ in range(4))
    _check_idx(tuples.convert_to_triplets(empty, lab), backend, 0)


def test_convert_to_weights(backend, dtype):
    lab = backend.asarray(np.array([0, 0, 1, 1, 2]))
    trip = tuple(backend.asarray(np.array(x)) for x in ([0, 0, 1], [1, 1, 0], [2, 3, 2]))
    w = tuples.convert_to_weights(trip, lab, dtype=dtype)
    assert_array(w, backend, dtype=dtype, shape=(5,))
    np.testing.assert_allclose(backend.to_numpy(w), np.array([3, 3, 2, 1, 0]) / 3, **tol(dtype, backend.xp))
    w_ref = tuples.convert_to_weights(trip, lab, dtype=dtype, using_ref=True)
    np.testing.assert_allclose(backend.to_numpy(w_ref), [1, 0.5, 0, 0, 0], **tol(dtype, backend.xp))
    ones = tuples.convert_to_weights(None, lab, dtype=dtype)
    np.testing.assert_array_equal(backend.to_numpy(ones), np.ones(5))
    empty = tuple(backend.asarray(np.zeros(0, dtype=np.int64)) for _ in range(3))
    np.testing.assert_array_equal(backend.to_numpy(tuples.convert_to_weights(empty, lab, dtype=dtype)), np.ones(5))
    like = backend.asarray(np.zeros((5, 2)), dtype)
    assert tuples.convert_to_weights(trip, [0, 0, 1, 1, 2], like=like).dtype == dtype


# -- helpers -----------------------------------------------------------------------------------
@pytest.mark.parametrize("add_one", [True, False])
@pytest.mark.parametrize("dim", [0, 1])
def test_logsumexp(backend, dtype, add_one, dim):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 5)) * 3
    keep = rng.random((4, 5)) > 0.4
    keep[1, :] = False
    keep[:, 2] = False
    out = tuples.logsumexp(backend.asarray(x, dtype), backend.asarray(keep), add_one=add_one, dim=dim)
    shape = (4, 1) if dim == 1 else (1, 5)
    assert_array(out, backend, dtype=dtype, shape=shape)
    e = np.where(keep, np.exp(x), 0.0).sum(axis=dim, keepdims=True) + (1.0 if add_one else 0.0)
    with np.errstate(divide="ignore"):
        expected = np.where(keep.any(axis=dim, keepdims=True), np.log(e), 0.0)
    np.testing.assert_allclose(backend.to_numpy(out), expected, rtol=1e-5 if dtype == backend.xp.float32 else 1e-12, atol=1e-5)
    plain = tuples.logsumexp(backend.asarray(x, dtype), add_one=add_one, dim=dim)
    ref = np.log(np.exp(x).sum(axis=dim, keepdims=True) + (1.0 if add_one else 0.0))
    np.testing.assert_allclose(backend.to_numpy(plain), ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("start", [0, 3, 8])
def test_remove_self_comparisons(backend, start):
    ref_size, bsz = 10, 4
    slots = (np.arange(bsz) + start) % ref_size  # the batch was written here (wraps around)
    rng = np.random.default_rng(start)
    a = rng.integers(0, bsz, 40)
    a[:4] = np.arange(4)
    p = rng.integers(0, ref_size, 40)
    p[:4] = slots  # four true self-comparisons
    n = rng.integers(0, ref_size, 40)
    self_cmp = np.array([pi in slots and int(np.nonzero(slots == pi)[0][0]) == ai for ai, pi in zip(a, p)])
    trip = tuple(backend.asarray(x) for x in (a, p, n))
    out = tuples.remove_self_comparisons(trip, backend.asarray(slots), ref_size)
    _check_idx(out, backend, int((~self_cmp).sum()))
    for x, y in zip(_np(backend, out), (a[~self_cmp], p[~self_cmp], n[~self_cmp])):
        np.testing.assert_array_equal(x, y)
    pairs = (trip[0], trip[1], trip[0], trip[2])
    out4 = _np(backend, tuples.remove_self_comparisons(pairs, backend.asarray(slots), ref_size))
    np.testing.assert_array_equal(out4[1], p[~self_cmp])
    np.testing.assert_array_equal(out4[3], n)  # negative pairs untouched
    swapped = _np(backend, tuples.remove_self_comparisons((trip[1], trip[0], trip[2]), backend.asarray(slots), ref_size, ref_is_subset=True))
    np.testing.assert_array_equal(swapped[0], p[~self_cmp])


def test_remove_self_comparisons_batch_of_one(backend):
    # PML misses this self-comparison (it treats a one-row batch as wrapping around)
    trip = tuple(backend.asarray(np.array(x)) for x in ([0, 0], [6, 2], [1, 1]))
    out = _np(backend, tuples.remove_self_comparisons(trip, backend.asarray(np.array([6])), 10))
    np.testing.assert_array_equal(out[1], [2])


def test_anchor_and_pair_helpers(backend):
    a1, p, a2, n = (backend.asarray(np.array(x)) for x in ([0, 1], [2, 3], [4], [5]))
    np.testing.assert_array_equal(backend.to_numpy(tuples.get_anchors((a1, p, a2, n))), [0, 1, 4])
    np.testing.assert_array_equal(backend.to_numpy(tuples.get_anchors((a1, p, p))), [0, 1])
    assert tuples.pos_pairs_from_tuple((a1, p, a2, n)) == (a1, p)
    assert tuples.neg_pairs_from_tuple((a1, p, a2, n)) == (a2, n)


# -- bad input (one test each) ---------------------------------------------------------------------
def test_labels_not_1d(backend):
    with pytest.raises(ValueError, match="labels must be 1-D"):
        tuples.get_all_pairs_indices(backend.asarray(np.zeros((3, 2), dtype=np.int64)))


def test_ref_labels_not_1d(backend):
    with pytest.raises(ValueError, match="ref_labels must be 1-D"):
        tuples.get_all_triplets_indices(backend.asarray(LABELS), backend.asarray(np.zeros((3, 2), dtype=np.int64)))


def test_bool_labels(backend):
    with pytest.raises(TypeError, match="class ids"):
        tuples.get_matches_and_diffs(backend.asarray(np.array([True, False])))


def test_labels_none():
    with pytest.raises(TypeError, match="labels is required"):
        tuples.get_all_pairs_indices(None)


def test_mismatched_triplet_lengths(backend):
    bad = tuple(backend.asarray(np.array(x)) for x in ([0, 1], [1, 0], [2]))
    with pytest.raises(ValueError, match="equal lengths"):
        tuples.convert_to_pairs(bad, backend.asarray(LABELS))


def test_mismatched_pair_lengths(backend):
    bad = tuple(backend.asarray(np.array(x)) for x in ([0, 1], [1], [2], [3]))
    with pytest.raises(ValueError, match="len\\(a1\\) == len\\(p\\)"):
        tuples.convert_to_triplets(bad, backend.asarray(LABELS))


@pytest.mark.parametrize("bad", [(), ([0],), ([0], [1]), ([0],) * 5, "abc"])
def test_bad_tuple_length(bad):
    with pytest.raises(ValueError, match="indices_tuple must be"):
        tuples.convert_to_triplets(bad, LABELS)


def test_tuple_not_integer(backend):
    bad = tuple(backend.asarray(np.array([0.0])) for _ in range(3))
    with pytest.raises(TypeError, match="integer dtype"):
        tuples.convert_to_pairs(bad, backend.asarray(LABELS))


@pytest.mark.parametrize("t", [-1, 1.5, True, "all", "some"])
def test_bad_t_per_anchor(t):
    with pytest.raises(ValueError, match="t_per_anchor"):
        tuples.get_random_triplet_indices(LABELS, t_per_anchor=t)


def test_bad_t_per_anchor_convert():
    with pytest.raises(ValueError, match="t_per_anchor"):
        tuples.convert_to_triplets(None, LABELS, t_per_anchor="some")


def test_bad_weights_shape(backend):
    with pytest.raises(ValueError, match="weights must have shape"):
        tuples.get_random_triplet_indices(backend.asarray(LABELS), weights=backend.asarray(np.ones((2, 2))))


@pytest.mark.parametrize("value", [-1.0, np.nan, np.inf])
def test_bad_weights_values(value):
    w = np.ones((len(LABELS), len(LABELS)))
    w[0, 1] = value
    with pytest.raises(ValueError, match="finite and non-negative"):
        tuples.get_random_triplet_indices(LABELS, weights=w)


def test_weights_out_of_range(backend):
    trip = tuple(backend.asarray(np.array(x)) for x in ([0], [1], [9]))
    with pytest.raises(ValueError, match="outside"):
        tuples.convert_to_weights(trip, backend.asarray(np.array([0, 0, 1])))


def test_mixed_libraries():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="labels"):
        tuples.get_all_pairs_indices(torch.tensor([0, 1]), like=np.zeros((2, 2)))


def test_logsumexp_bad_input(backend):
    x = backend.asarray(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="keep_mask"):
        tuples.logsumexp(x, backend.asarray(np.ones((3, 2), dtype=bool)))
    with pytest.raises(ValueError, match="2-D"):
        tuples.logsumexp(backend.asarray(np.zeros(3)))


def test_remove_self_comparisons_bad_ref_size(backend):
    trip = tuple(backend.asarray(np.array([0])) for _ in range(3))
    with pytest.raises(ValueError, match="ref_size"):
        tuples.remove_self_comparisons(trip, backend.asarray(np.arange(4)), 2)
