"""OML 4.0 miners on every backend: hand-checked examples, OML's documented semantics, errors.

OML (open-metric-learning) is not installed (it would pull heavy dependencies), so there
is no differential test. Instead the references below are small loop implementations of
OML's documented semantics (its docstrings and its own unit tests, read from source:
``oml/miners/*.py`` and ``tests/test_oml/test_miners/*``), and where OML's tests state a
property (``NHard(1, 1) == Hard``, ``NHard(large) == All`` as sets, the triplet count
``P (P - 1) (K - 1) K^2`` of a P x K batch, the HardTriplets == HardCluster edge case,
...), it is asserted here. Where we deliberately differ from OML, the test says so.
The contract shared by every miner (output arrays, empty outputs, call errors, OML's
``sample``) is tested per catalogue entry in ``test_miner_contract.py``.
"""

from __future__ import annotations

import itertools
import sys

import numpy as np
import pytest

from agnostic_ml.distances import CosineSimilarity, LpDistance
from agnostic_ml.miners import (
    AllTripletsMiner,
    HardClusterMiner,
    HardTripletsMiner,
    IndexedTriplets,
    MinerWithBank,
    NHardTripletsMiner,
    TripletMinerWithMemory,
)
from agnostic_ml.miners.all_triplets import count_all_triplets, decode_all_triplets, triplet_counts
from agnostic_ml.tuples import get_all_triplets_indices
from helpers import assert_array, check_indices, nhard_reference, to_rows

# -- helpers and loop references (NumPy, float64) ------------------------------------------


def oml_all_triplets(labels, ref_labels=None):
    """OML's ``get_available_triplets_naive``: ordered positive pairs x negatives, as a set."""
    labels = list(labels)
    if ref_labels is None:
        out = set()
        for lab in set(labels):
            ids = [i for i, x in enumerate(labels) if x == lab]
            negs = [i for i, x in enumerate(labels) if x != lab]
            pairs = list(itertools.combinations(ids, 2)) + list(itertools.combinations(ids[::-1], 2))
            out |= {(a, p, n) for (a, p), n in itertools.product(pairs, negs)}
        return out
    ref_labels = list(ref_labels)
    return {
        (a, p, n)
        for a, la in enumerate(labels)
        for p, lp in enumerate(ref_labels)
        if lp == la
        for n, ln in enumerate(ref_labels)
        if ln != la
    }


def np_dist(x, r=None):
    r = x if r is None else r
    return np.sqrt(((x[:, None, :] - r[None, :, :]) ** 2).sum(-1))


def pk_labels(p, k, rng):
    lab = np.repeat(np.arange(p), k)
    rng.shuffle(lab)
    return lab


TINY_X = np.array([[0.0], [1.0], [3.0], [10.0], [4.0], [20.0]])
TINY_Y = np.array([0, 0, 0, 1, 1, 1])


# -- OML's sample: what is specific to a miner (the rest: test_miner_contract.py) -------------


def test_sample_hard_cluster_gives_one_triplet_per_label(backend, dtype):
    out = HardClusterMiner().sample(backend.asarray(TINY_X, dtype), TINY_Y)
    assert out[0].shape[0] == 2


def test_sample_memory_miner_flags_original_triplets(backend, dtype):
    out = TripletMinerWithMemory(2, 3, rng=0).sample(backend.asarray(TINY_X, dtype), TINY_Y)
    assert_array(out[3], backend, dtype=backend.xp.bool)


# -- AllTripletsMiner ----------------------------------------------------------------------------


def test_all_triplets_hand_example(backend, dtype):
    x = backend.asarray(np.zeros((5, 2)), dtype)
    got = to_rows(backend, AllTripletsMiner()(x, [0, 0, 1, 1, 1]))
    # class {0, 1} x negatives {2, 3, 4}; class {2, 3, 4}: 2 positives x negatives {0, 1}
    assert got[:7] == [(0, 1, 2), (0, 1, 3), (0, 1, 4), (1, 0, 2), (1, 0, 3), (1, 0, 4), (2, 3, 0)]
    assert len(got) == 2 * 1 * 3 + 3 * 2 * 2 == 18
    assert set(got) == oml_all_triplets([0, 0, 1, 1, 1])
    assert got == sorted(got)  # PML's lexicographic order (OML: random order)


def test_all_triplets_ignore_features(backend, dtype):
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 4, 15)
    a = to_rows(backend, AllTripletsMiner()(backend.asarray(rng.normal(size=(15, 3)), dtype), labels))
    b = to_rows(backend, AllTripletsMiner()(backend.asarray(np.zeros((15, 3)), dtype), labels))
    assert a == b and set(a) == oml_all_triplets(labels)


def test_all_triplets_with_ref(backend, dtype):
    """PML contract: with a separate reference set, p and n index it and nothing is excluded."""
    x = backend.asarray(np.zeros((3, 2)), dtype)
    r = backend.asarray(np.zeros((4, 2)), dtype)
    got = to_rows(backend, AllTripletsMiner()(x, [0, 1, 7], r, [0, 0, 1, 2]))
    assert got == sorted(oml_all_triplets([0, 1, 7], [0, 0, 1, 2]))
    assert (0, 0, 2) in got  # p == a is allowed with a separate reference set


@pytest.mark.parametrize("with_ref", [False, True])
def test_rank_decoder_matches_enumerator(backend, with_ref):
    """The subsampling decoder, fed every rank, gives exactly the blocked enumeration."""
    rng = np.random.default_rng(2)
    for _ in range(3):
        lab = backend.asarray(rng.integers(0, 4, 13))
        ref = backend.asarray(rng.integers(0, 5, 9)) if with_ref else lab
        c = triplet_counts(lab, ref, exclude_self=not with_ref, xp=backend.xp)
        total = int(backend.to_numpy(backend.xp.sum(c["n_pos"] * c["n_neg"])))
        ranks = backend.xp.arange(total, dtype=backend.xp.int64, device=backend.device)
        got = to_rows(backend, decode_all_triplets(ranks, c, xp=backend.xp))
        want = to_rows(backend, get_all_triplets_indices(lab, ref if with_ref else None))
        assert got == want
        assert total == count_all_triplets(backend.to_numpy(lab), backend.to_numpy(ref) if with_ref else None)


def test_all_triplets_subsampling(backend, dtype):
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 5, 30)
    x = backend.asarray(np.zeros((30, 2)), dtype)
    total = count_all_triplets(labels)
    full = set(oml_all_triplets(labels))
    assert len(full) == total > 100
    got = to_rows(backend, AllTripletsMiner(max_output_triplets=100, rng=7)(x, labels))
    assert len(got) == 100  # exact count
    assert len(set(got)) == 100  # without replacement
    assert set(got) <= full  # a subset of all triplets
    assert got == sorted(got)
    again = to_rows(backend, AllTripletsMiner(max_output_triplets=100, rng=7)(x, labels))
    assert again == got  # same seed, same output (on every backend: see the next test)
    gen = to_rows(backend, AllTripletsMiner(max_output_triplets=100, rng=np.random.default_rng(7))(x, labels))
    assert gen == got
    other = to_rows(backend, AllTripletsMiner(max_output_triplets=100, rng=8)(x, labels))
    assert other != got
    assert len(to_rows(backend, AllTripletsMiner(max_output_triplets=total)(x, labels))) == total


def test_all_triplets_subsampling_same_on_every_backend(backend):
    labels = np.random.default_rng(4).integers(0, 3, 20)
    x = backend.asarray(np.zeros((20, 2)), backend.xp.float32)
    got = to_rows(backend, AllTripletsMiner(max_output_triplets=50, rng=11)(x, labels))
    ref = AllTripletsMiner(max_output_triplets=50, rng=11)(np.zeros((20, 2)), labels)
    assert got == list(zip(*(r.tolist() for r in ref)))


def test_all_triplets_subsampling_is_uniform():
    """8 triplets, 4 drawn each time: every triplet is drawn with probability 1/2."""
    miner = AllTripletsMiner(max_output_triplets=4, rng=0)
    x = np.zeros((4, 1))
    counts: dict = {}
    for _ in range(400):
        for t in zip(*(u.tolist() for u in miner(x, [0, 0, 1, 1]))):
            counts[t] = counts.get(t, 0) + 1
    assert len(counts) == 8
    assert all(140 < c < 260 for c in counts.values()), counts


def test_all_triplets_huge_count_is_not_materialised():
    """3 classes x 700: 2.06e9 triplets; drawing 1000 of them needs O(N + 1000) memory."""
    labels = np.repeat(np.arange(3), 700)
    t = AllTripletsMiner(max_output_triplets=1000, rng=0)(np.zeros((2100, 1), np.float32), labels)
    a, p, n = (u.astype(np.int64) for u in t)
    assert a.shape == (1000,)
    assert np.all(labels[a] == labels[p]) and np.all(a != p) and np.all(labels[a] != labels[n])
    assert count_all_triplets(labels) == 3 * 700 * 699 * 1400


@pytest.mark.parametrize(
    "kwargs,err",
    [
        ({"max_output_triplets": 0}, ValueError),
        ({"max_output_triplets": -5}, ValueError),
        ({"max_output_triplets": 2.5}, TypeError),
        ({"max_output_triplets": True}, TypeError),
        ({"rng": "seed"}, TypeError),
        ({"rng": -1}, ValueError),
    ],
)
def test_all_triplets_bad_arguments(kwargs, err):
    with pytest.raises(err, match="max_output_triplets|rng"):
        AllTripletsMiner(**kwargs)


# -- HardTripletsMiner / NHardTripletsMiner ------------------------------------------------------


def test_hard_triplets_hand_example(backend, dtype):
    x = backend.asarray(TINY_X, dtype)
    got = to_rows(backend, HardTripletsMiner()(x, TINY_Y))
    assert got == [(0, 2, 4), (1, 2, 4), (2, 0, 4), (3, 5, 2), (4, 5, 2), (5, 4, 2)]


def test_hard_triplets_ties_self_and_dropped_anchors(backend, dtype):
    # positives of 0 at equal distance (1 and 2): the lower index wins (torch.argmax rule);
    # 3 and 4 are duplicates of each other: the anchor itself is never chosen (OML 4.0 may);
    # 5 is a singleton: no positive, so no triplet (OML's sample forbids it).
    x = backend.asarray(np.array([[0.0], [1.0], [-1.0], [5.0], [5.0], [9.0]]), dtype)
    got = to_rows(backend, HardTripletsMiner()(x, [0, 0, 0, 1, 1, 2]))
    assert got == [(0, 1, 3), (1, 2, 3), (2, 1, 3), (3, 4, 1), (4, 3, 1)]


def test_hard_triplets_raw_euclidean_default(backend, dtype):
    """OML uses Euclidean on raw features; PML's default distance normalises first."""
    xn = np.array([[1.0, 0.0], [10.0, 0.0], [0.0, 2.0], [3.0, 3.0]])
    x = backend.asarray(xn, dtype)
    labels = [0, 0, 1, 1]
    raw = to_rows(backend, HardTripletsMiner()(x, labels))
    assert raw == nhard_reference(np_dist(xn), labels, labels, (0, 1), (0, 1), True)
    normed = to_rows(backend, HardTripletsMiner(distance=LpDistance())(x, labels))
    xu = xn / np.linalg.norm(xn, axis=1, keepdims=True)
    assert normed == nhard_reference(np_dist(xu), labels, labels, (0, 1), (0, 1), True)
    assert raw != normed


def test_hard_triplets_similarity(backend, dtype):
    """With a similarity the hardest positive is the least similar, the hardest negative the most."""
    rng = np.random.default_rng(5)
    xn, labels = rng.normal(size=(12, 3)), rng.integers(0, 3, 12)
    got = to_rows(backend, HardTripletsMiner(distance=CosineSimilarity())(backend.asarray(xn, dtype), labels))
    xu = xn / np.linalg.norm(xn, axis=1, keepdims=True)
    assert got == nhard_reference(-(xu @ xu.T), labels, labels, (0, 1), (0, 1), True)


def test_hard_triplets_with_ref(backend, dtype):
    x = backend.asarray(np.array([[0.0], [10.0]]), dtype)
    r = backend.asarray(np.array([[0.0], [2.0], [9.0], [11.5]]), dtype)
    got = to_rows(backend, HardTripletsMiner()(x, [0, 1], r, [0, 0, 1, 1]))
    # anchor 0: positives ref 0 (d=0) and 1 (d=2) -> 1; negatives ref 2, 3 -> 2.
    assert got == [(0, 1, 2), (1, 3, 1)]


def test_nhard_hand_example(backend, dtype):
    x = backend.asarray(TINY_X, dtype)
    got = to_rows(backend, NHardTripletsMiner(n_positive=2, n_negative=(1, 2))(x, TINY_Y))
    assert [t for t in got if t[0] == 0] == [(0, 2, 4), (0, 2, 3), (0, 1, 4), (0, 1, 3)]
    # (2, 2): exactly the second hardest positive and the third-hardest negative
    got = to_rows(backend, NHardTripletsMiner(n_positive=(2, 2), n_negative=(3, 3))(x, TINY_Y))
    assert got == [(0, 1, 5), (1, 0, 5), (2, 1, 5), (3, 4, 0), (4, 3, 0), (5, 3, 0)]


@pytest.mark.parametrize("n_positive", [1, 3, (2, 4)])
@pytest.mark.parametrize("n_negative", [1, 5, (3, 6)])
def test_nhard_matches_oml_semantics(backend, n_positive, n_negative):
    """OML's test_nhard_miner: per anchor, the mined positives / negatives are the slice of
    the hardest ones (by distance, self excluded)."""
    rng = np.random.default_rng(6)
    labels = np.repeat(np.arange(4), rng.integers(2, 7, 4))
    rng.shuffle(labels)
    xn = rng.normal(size=(labels.shape[0], 5))
    miner = NHardTripletsMiner(n_positive, n_negative)
    got = to_rows(backend, miner(backend.asarray(xn, backend.xp.float64), labels))
    assert got == nhard_reference(np_dist(xn), labels, labels, miner.positive_slice, miner.negative_slice, True)


def test_nhard_expected_size(backend, dtype):
    """OML's test_expected_batch_size: N * (hi_p - lo_p + 1) * (hi_n - lo_n + 1)."""
    rng = np.random.default_rng(7)
    labels = pk_labels(4, 6, rng)
    x = backend.asarray(rng.normal(size=(24, 3)), dtype)
    for (lp, hp), (ln, hn) in [((2, 4), (2, 5)), ((1, 2), (1, 2))]:
        t = NHardTripletsMiner((lp, hp), (ln, hn))(x, labels)
        check_indices(backend, t, n=24 * (hp - lp + 1) * (hn - ln + 1))


def test_nhard_special_cases(backend, dtype):
    """OML: NHard(1, 1) is HardTripletsMiner; NHard(large, large) is AllTripletsMiner (as sets)."""
    rng = np.random.default_rng(8)
    labels = rng.integers(0, 4, 20)
    x = backend.asarray(rng.normal(size=(20, 4)), dtype)
    assert to_rows(backend, NHardTripletsMiner(1, 1)(x, labels)) == to_rows(backend, HardTripletsMiner()(x, labels))
    big = to_rows(backend, NHardTripletsMiner(10**6, 10**6)(x, labels))
    assert len(big) == len(set(big)) and set(big) == oml_all_triplets(labels)


def test_nhard_range_beyond_class_size(backend, dtype):
    """Anchors with fewer positives than ``lo`` contribute nothing (OML raises an unpack error)."""
    x = backend.asarray(np.arange(7, dtype=float)[:, None], dtype)
    labels = [0, 0, 0, 0, 1, 1, 2]
    got = to_rows(backend, NHardTripletsMiner(n_positive=(2, 3), n_negative=1)(x, labels))
    assert {a for a, _, _ in got} == {0, 1, 2, 3}  # class 1 has 1 positive, class 2 none
    assert len(got) == 4 * 2


@pytest.mark.parametrize(
    "value,err",
    [
        (0, ValueError),
        (-2, ValueError),
        ((0, 2), ValueError),
        ((3, 2), ValueError),
        ([1, 2, 3], TypeError),
        ((1.0, 2), TypeError),
        (1.5, TypeError),
        (True, TypeError),
        ("2", TypeError),
        (None, TypeError),
    ],
)
@pytest.mark.parametrize("arg", ["n_positive", "n_negative"])
def test_nhard_bad_arguments(value, err, arg):
    with pytest.raises(err, match=arg):
        NHardTripletsMiner(**{arg: value})


def test_bad_distance():
    for cls in (HardTripletsMiner, NHardTripletsMiner, HardClusterMiner):
        with pytest.raises(TypeError, match="distance"):
            cls(distance="euclidean")


def test_default_distance_is_raw_euclidean():
    for m in (AllTripletsMiner(), HardTripletsMiner(), NHardTripletsMiner(), HardClusterMiner()):
        assert isinstance(m.distance, LpDistance) and not m.distance.normalize_embeddings
        assert m.distance.p == 2 and m.distance.power == 1


# -- HardClusterMiner -----------------------------------------------------------------------------


def test_hard_cluster_oml_unit_examples(backend, dtype):
    """OML's test_cluster_count_intra/inter_label_distances values, through the whole miner."""
    # intra: class 0 [[1,0,0,0],[1,0,0,0],[1,0,0,3]] -> squared distances to the mean [1, 1, 4];
    # class 1 [[0,3,0,1],[0,6,0,1],[0,3,0,1]] -> [1, 4, 1].
    xn = np.array(
        [[1, 0, 0, 0], [1, 0, 0, 0], [1, 0, 0, 3], [0, 3, 0, 1], [0, 6, 0, 1], [0, 3, 0, 1]], dtype=float
    )
    t = HardClusterMiner().clusters(backend.asarray(xn, dtype), [0, 0, 0, 1, 1, 1])
    assert backend.to_numpy(t.positive).tolist() == [2, 4]
    assert backend.to_numpy(t.negative_class).tolist() == [1, 0]
    np.testing.assert_allclose(backend.to_numpy(t.centres), [[1, 0, 0, 1], [0, 4, 0, 1]], atol=1e-6)
    # inter: means (0,0,0,0), (3,0,0,0), (0,4,0,0), (0,0,0,5) -> nearest other means 1, 0, 0, 0.
    means = np.array([[0, 0, 0, 0], [3, 0, 0, 0], [0, 4, 0, 0], [0, 0, 0, 5]], dtype=float)
    e = np.array([0.5, 0, 0, 0])
    xn = np.concatenate([means - e, means + e])
    t = HardClusterMiner().clusters(backend.asarray(xn, dtype), [0, 1, 2, 3, 0, 1, 2, 3])
    assert backend.to_numpy(t.negative_class).tolist() == [1, 0, 0, 0]
    assert backend.to_numpy(t.positive).tolist() == [0, 1, 2, 3]  # tie: the lower index
    np.testing.assert_allclose(backend.to_numpy(t.centres), means, atol=1e-6)


def test_hard_cluster_index_contract(backend, dtype):
    xn = np.array([[0, 0], [1, 0], [5, 0], [10, 0], [10, 1], [10, 5], [30, 0], [31, 0], [35, 0]], dtype=float)
    labels = [2, 2, 2, 5, 5, 5, 9, 9, 9]
    miner = HardClusterMiner()
    x = backend.asarray(xn, dtype)
    a, p, n = miner(x, labels)
    check_indices(backend, (a, p, n), n=3)
    assert backend.to_numpy(a).tolist() == [9, 10, 11]  # centres are rows N + c of E
    assert backend.to_numpy(p).tolist() == [2, 5, 8]
    assert backend.to_numpy(n).tolist() == [10, 9, 10]
    t = miner.mine_extended(x, labels)
    assert isinstance(t, IndexedTriplets)
    assert_array(t.embeddings, backend, dtype=dtype, shape=(12, 2))
    e = backend.to_numpy(t.embeddings)
    np.testing.assert_allclose(e[9:], [[2, 0], [10, 2], [32, 0]], atol=1e-5)
    assert backend.to_numpy(t.labels).tolist() == labels + [2, 5, 9]
    assert to_rows(backend, t.indices) == to_rows(backend, (a, p, n))
    e2, l2 = miner.reference_set(x, labels)
    np.testing.assert_allclose(backend.to_numpy(e2), e)
    anc, pos, neg = miner.sample(x, labels)  # OML: (mean_vector, positive, negative_mean_vector)
    np.testing.assert_allclose(backend.to_numpy(anc), e[[9, 10, 11]], atol=1e-5)
    np.testing.assert_allclose(backend.to_numpy(pos), xn[[2, 5, 8]])
    np.testing.assert_allclose(backend.to_numpy(neg), e[[10, 9, 10]], atol=1e-5)


def test_hard_cluster_equals_hard_triplets_on_duplicates(backend, dtype):
    """OML's test_triplet_cluster_edge_case: with every class made of copies of one vector,
    HardClusterMiner and HardTripletsMiner give the same (unique) embedding triplets."""
    rng = np.random.default_rng(9)
    unique = rng.random((5, 8))
    xn = np.tile(unique, (3, 1))
    labels = np.tile(np.arange(5), 3)
    x = backend.asarray(xn, dtype)
    cl = np.concatenate([backend.to_numpy(e) for e in HardClusterMiner().sample(x, labels)], axis=1)
    ht = np.concatenate([backend.to_numpy(e) for e in HardTripletsMiner().sample(x, labels)], axis=1)
    np.testing.assert_allclose(np.unique(cl.round(4), axis=0), np.unique(ht.round(4), axis=0), atol=1e-4)


def test_hard_cluster_generalises_class_sizes(backend, dtype):
    """OML requires P x K batches; we accept any: singletons are not anchors but are negatives."""
    xn = np.array([[0.0], [2.0], [10.0], [11.0], [13.0], [3.0]])
    labels = [0, 0, 1, 1, 1, 2]
    t = HardClusterMiner().clusters(backend.asarray(xn, dtype), labels)
    assert backend.to_numpy(t.anchor_class).tolist() == [0, 1]  # class 2 is a singleton
    assert backend.to_numpy(t.positive).tolist() == [0, 4]  # tie at class 0: lower index
    assert backend.to_numpy(t.negative_class).tolist() == [2, 2]  # centres 1, 11.33, 3


def test_hard_cluster_rejects_ref(backend, dtype):
    x = backend.asarray(TINY_X, dtype)
    with pytest.raises(ValueError, match="ref_emb"):
        HardClusterMiner()(x, TINY_Y, x, TINY_Y)


def test_hard_cluster_centres_are_differentiable():
    torch = pytest.importorskip("torch")
    x = torch.tensor(TINY_X, requires_grad=True)
    anc, pos, neg = HardClusterMiner().sample(x, TINY_Y)
    (anc.sum() + neg.sum()).backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0


# -- TripletMinerWithMemory ----------------------------------------------------------------------


def n_possible_triplets(n_labels, n_instances):
    """OML's tests: in-batch triplets of a P x K batch."""
    return n_labels * (n_labels - 1) * (n_instances - 1) * n_instances**2


def check_memory_triplets(backend, t):
    """Labels relations over E = [batch; bank] and indices in range."""
    a, p, n = (backend.to_numpy(x) for x in t.indices)
    lab = backend.to_numpy(t.labels)
    m = lab.shape[0]
    assert t.embeddings.shape[0] == m
    for x in (a, p, n):
        assert x.size == 0 or (x.min() >= 0 and x.max() < m)
    assert np.all(a != p) and np.all(lab[a] == lab[p]) and np.all(lab[a] != lab[n])


def test_memory_miner_parts_and_bank(backend, dtype):
    rng = np.random.default_rng(10)
    p_cls, k_inst, bank_batches, k = 4, 3, 2, 3
    miner = TripletMinerWithMemory(bank_size_in_batches=bank_batches, tri_expand_k=k, rng=0)
    n1 = n_possible_triplets(p_cls, k_inst)
    batches = []
    for step in range(4):
        lab = pk_labels(p_cls, k_inst, rng) + 10 * step  # disjoint classes: no collisions with the bank
        xb = rng.normal(size=(p_cls * k_inst, 3))
        batches.append((xb, lab))
        t = miner.mine_extended(backend.asarray(xb, dtype), lab)
        check_memory_triplets(backend, t)
        orig = backend.to_numpy(t.is_original)
        assert_array(t.is_original, backend, dtype=backend.xp.bool)
        assert int(orig.sum()) == n1  # OML: is_original_tri.sum() == n_possible_triplets
        a, p, n = (backend.to_numpy(x) for x in t.indices)
        b = p_cls * k_inst
        assert np.all(a[orig] < b) and np.all(p[orig] < b) and np.all(n[orig] < b)
        assert set(zip(a[orig], p[orig], n[orig])) == oml_all_triplets(lab)
        if step == 0:  # empty bank: in-batch triplets only (OML pre-fills fake rows instead)
            assert a.shape[0] == n1
            assert t.embeddings.shape[0] == b
        else:  # no label collisions: exactly tri_expand_k * n1, as in OML's test
            assert a.shape[0] == k * n1
            extra = (n1 * (k - 1)) // 2
            part3, part2 = slice(0, extra), slice(extra, 2 * extra)
            assert np.all(a[part3] < b) and np.all(p[part3] < b) and np.all(n[part3] >= b)
            assert np.all(a[part2] >= b) and np.all(p[part2] >= b) and np.all(n[part2] < b)
        # the bank: filled in order, wraps after bank_batches batches, stays on the device
        assert miner.bank_is_full == (step + 1 >= bank_batches)
        bank = miner.bank_embeddings
        assert_array(bank, backend, dtype=dtype)
        assert_array(miner.bank_labels, backend)
        slots = [batches[s] for s in range(step + 1)][-bank_batches:]
        slots = sorted(slots, key=lambda xy: [i for i, bb in enumerate(batches) if bb is xy][0] % bank_batches)
        np.testing.assert_allclose(backend.to_numpy(bank), np.concatenate([s[0] for s in slots]), rtol=1e-6)
        assert backend.to_numpy(miner.bank_labels).tolist() == np.concatenate([s[1] for s in slots]).tolist()


def test_memory_miner_expand_one_is_all_triplets(backend, dtype):
    rng = np.random.default_rng(11)
    miner = TripletMinerWithMemory(bank_size_in_batches=3, tri_expand_k=1, rng=0)
    for _ in range(3):
        lab = pk_labels(3, 3, rng)
        x = backend.asarray(rng.normal(size=(9, 2)), dtype)
        got = to_rows(backend, miner(x, lab))
        assert got == to_rows(backend, AllTripletsMiner()(x, lab))


def test_memory_miner_collisions_are_dropped(backend, dtype):
    """Same classes in every batch: bank draws whose negative shares the anchor's label are dropped."""
    rng = np.random.default_rng(12)
    miner = TripletMinerWithMemory(bank_size_in_batches=2, tri_expand_k=5, rng=3)
    for _ in range(4):
        lab = pk_labels(2, 4, rng)
        t = miner.mine_extended(backend.asarray(rng.normal(size=(8, 2)), dtype), lab)
        check_memory_triplets(backend, t)
        assert t.anchors.shape[0] <= 5 * n_possible_triplets(2, 4)


def test_memory_miner_same_seed_same_output(backend, dtype):
    def run(b):
        rng = np.random.default_rng(13)
        m = TripletMinerWithMemory(bank_size_in_batches=2, tri_expand_k=4, rng=21)
        out = []
        for _ in range(3):
            lab, xb = pk_labels(3, 2, rng), rng.normal(size=(6, 2))
            x = xb if b is None else b.asarray(xb, dtype)
            out.append([np.asarray(u if b is None else b.to_numpy(u)).tolist() for u in m(x, lab)])
        return out

    assert run(backend) == run(None)


def test_memory_miner_errors(backend, dtype):
    miner = TripletMinerWithMemory(2, 2)
    x = backend.asarray(TINY_X, dtype)
    with pytest.raises(ValueError, match="ref_emb"):
        miner(x, TINY_Y, x, TINY_Y)
    miner(x, TINY_Y)
    with pytest.raises(ValueError, match="batch size"):
        miner(x[:4, ...], TINY_Y[:4])
    with pytest.raises(ValueError, match="dim"):
        miner(backend.asarray(np.zeros((6, 2)), dtype), TINY_Y)
    miner.reset()
    check_indices(backend, miner(x[:4, ...], TINY_Y[:4]))


@pytest.mark.parametrize(
    "args,err",
    [((0, 1), ValueError), ((1, 0), ValueError), ((2.0, 1), TypeError), ((1, True), TypeError), (("2", 1), TypeError)],
)
def test_memory_miner_bad_arguments(args, err):
    with pytest.raises(err, match="bank_size_in_batches|tri_expand_k"):
        TripletMinerWithMemory(*args)


# -- MinerWithBank -------------------------------------------------------------------------------


@pytest.mark.parametrize("inner", ["nhard", "hard", "all"])
def test_miner_with_bank_equals_mining_the_concatenation(backend, dtype, inner):
    """Once the bank is full: the inner miner over E = [batch; bank] as one batch, keeping
    only the batch rows as anchors (OML's ignore_anchor_mask). Before: in-batch mining."""
    make = {
        "nhard": lambda: NHardTripletsMiner((1, 2), 3),
        "hard": lambda: HardTripletsMiner(),
        "all": lambda: AllTripletsMiner(),
    }[inner]
    rng = np.random.default_rng(14)
    bank_batches, b = 2, 8
    miner = MinerWithBank(bank_batches, make(), need_logs=False)
    history = []
    for step in range(5):
        lab = rng.integers(0, 3, b)
        xn = rng.normal(size=(b, 3))
        x = backend.asarray(xn, dtype)
        e_before, l_before = miner.reference_set(x, lab)
        got = to_rows(backend, miner(x, lab))
        if step < bank_batches:
            want = to_rows(backend, make()(x, lab))
            assert e_before.shape[0] == b
        else:
            slots = history[-bank_batches:]
            slots = sorted(slots, key=lambda s: s[0] % bank_batches)
            en = np.concatenate([xn] + [s[1] for s in slots])
            el = np.concatenate([lab] + [s[2] for s in slots])
            np.testing.assert_allclose(backend.to_numpy(e_before), en, rtol=1e-6)
            assert backend.to_numpy(l_before).tolist() == el.tolist()
            full = to_rows(backend, make()(backend.asarray(en, dtype), el))
            want = [t for t in full if t[0] < b]
        assert got == want
        history.append((step, xn, lab))


def test_miner_with_bank_index_contract_and_logs(backend, dtype):
    miner = MinerWithBank(bank_size_in_batches=1, miner=NHardTripletsMiner(2, 1))
    x1 = backend.asarray(np.array([[0.0], [1.0], [5.0], [7.0]]), dtype)
    y = [0, 0, 1, 1]
    t = miner.mine_extended(x1, y)
    assert miner.bank_is_full and t.embeddings.shape[0] == 4
    x2 = backend.asarray(np.array([[0.5], [1.5], [5.5], [7.5]]), dtype)
    t = miner.mine_extended(x2, y)
    assert_array(t.embeddings, backend, dtype=dtype, shape=(8, 1))
    got = to_rows(backend, t.indices)
    # anchor 0 (0.5): positives 1 (1.0), 4 (0.5), 5 (0.5) -> hardest 1 then 4; negative 6 (4.5)
    assert [tr for tr in got if tr[0] == 0] == [(0, 1, 6), (0, 4, 6)]
    assert all(a < 4 for a, _, _ in got)
    logs = {k: float(backend.to_numpy(v)) for k, v in miner.last_logs.items()}
    a, p, n = (np.array(u) for u in zip(*got))
    # by hand from the triplets: distinct positives/negatives per anchor from bank (>= 4) and batch
    assert logs["positives_from_bank"] == pytest.approx(np.mean([np.sum(np.unique(p[a == i]) >= 4) for i in range(4)]))
    assert logs["negatives_from_bank"] == pytest.approx(np.mean([np.sum(np.unique(n[a == i]) >= 4) for i in range(4)]))
    assert logs["positives_from_batch"] + logs["positives_from_bank"] == pytest.approx(2.0)
    assert logs["negatives_from_batch"] + logs["negatives_from_bank"] == pytest.approx(1.0)
    anc, pos, neg = miner.sample(x1, y)
    assert_array(anc, backend, dtype=dtype)


def test_miner_with_bank_errors(backend, dtype):
    x = backend.asarray(TINY_X, dtype)
    miner = MinerWithBank(2, NHardTripletsMiner())
    with pytest.raises(ValueError, match="ref_emb"):
        miner(x, TINY_Y, x, TINY_Y)
    miner(x, TINY_Y)
    with pytest.raises(ValueError, match="batch size"):
        miner(x[:3, ...], TINY_Y[:3])


@pytest.mark.parametrize(
    "args,err",
    [
        ((0, NHardTripletsMiner()), ValueError),
        ((1.0, NHardTripletsMiner()), TypeError),
        ((1, "nhard"), TypeError),
        ((1, HardClusterMiner()), TypeError),
        ((1, TripletMinerWithMemory(1, 1)), TypeError),
    ],
)
def test_miner_with_bank_bad_arguments(args, err):
    with pytest.raises(err, match="bank_size_in_batches|miner"):
        MinerWithBank(*args)


def test_reprs():
    assert repr(AllTripletsMiner(5)) == "AllTripletsMiner(max_output_triplets=5)"
    assert repr(NHardTripletsMiner((1, 3), 2)) == "NHardTripletsMiner(n_positive=(1, 3), n_negative=2)"
    assert "MinerWithBank(bank_size_in_batches=2" in repr(MinerWithBank(2, HardTripletsMiner()))
    assert AllTripletsMiner().max_output_triplets == sys.maxsize


def test_sample_ids_are_python_lists():
    """OML's ``_sample`` returns three lists of ints (``TTripletsIds``)."""
    ids = NHardTripletsMiner(1, 1).sample_ids(TINY_X, TINY_Y)
    assert all(isinstance(x, list) and all(type(i) is int for i in x) for x in ids)
    assert list(zip(*ids)) == [(0, 2, 4), (1, 2, 4), (2, 0, 4), (3, 5, 2), (4, 5, 2), (5, 4, 2)]
    assert len(AllTripletsMiner().sample_ids(TINY_X, TINY_Y)[0]) == count_all_triplets(TINY_Y)


@pytest.mark.parametrize("make", [lambda: TripletMinerWithMemory(2, 3, rng=0), lambda: MinerWithBank(1, HardTripletsMiner())])
def test_memory_miners_gradients_flow_to_the_batch_only(make):
    torch = pytest.importorskip("torch")
    miner = make()
    for step in range(3):
        x = torch.tensor(TINY_X + step, requires_grad=True)
        t = miner.mine_extended(x, TINY_Y)
        assert t.embeddings.requires_grad
        assert not miner.bank_embeddings.requires_grad  # stored rows are detached
        anc, pos, neg = (t.embeddings[i] for i in t.indices)
        ((anc - pos).pow(2).sum() - (anc - neg).pow(2).sum()).backward()
        assert x.grad is not None and torch.isfinite(x.grad).all()
