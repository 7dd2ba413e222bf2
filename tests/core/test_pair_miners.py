"""Pair-type and batch-hard miners on every backend: hand-checked examples, edge cases, errors.

The contract shared by every miner (output arrays, empty outputs, call errors, half
precision) is tested for each catalogue entry in ``test_miner_contract.py``.

Miners: PairMarginMiner, MultiSimilarityMiner, HDCMiner, BatchEasyHardMiner, BatchHardMiner,
UniformHistogramMiner. The hand-checked examples use points on a line with
``LpDistance(p=1, normalize_embeddings=False)``, so every distance is an exact small
dyadic number on every backend and dtype (ties are exact too), or the unit vectors of the
docstrings.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from agnostic_ml.distances import CosineSimilarity, DotProductSimilarity, LpDistance
from agnostic_ml.miners import (
    BatchEasyHardMiner,
    BatchHardMiner,
    HDCMiner,
    MultiSimilarityMiner,
    PairMarginMiner,
    UniformHistogramMiner,
)
from helpers import check_indices, to_lists


pytestmark = pytest.mark.usefixtures("one_torch_thread")

# Points on a line: labels 0, 0, 0, 1, 1. Positive distances {1, 3, 2, ...}, negative {0.5, 1.5, 2.5}.
LINE = np.array([[0.0], [1.0], [3.0], [0.5], [2.5]])
LINE_LABELS = np.array([0, 0, 0, 1, 1])
UNIT = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-0.6, 0.8]])
UNIT_LABELS = np.array([0, 0, 1, 1])


def l1():
    return LpDistance(p=1, normalize_embeddings=False)


def pairs(backend, a, b):
    return list(zip(backend.to_numpy(a).tolist(), backend.to_numpy(b).tolist()))


# -- hand-checked examples ---------------------------------------------------------------------


def test_pair_margin_examples(backend, dtype):
    emb = backend.asarray(UNIT, dtype)
    lab = backend.asarray(UNIT_LABELS, backend.xp.int64)
    # distances: d01 = d23 = 0.632, d12 = 0.894, d02 = d13 = 1.414, d03 = 1.789
    a1, p, a2, n = PairMarginMiner(pos_margin=0.7, neg_margin=1.0)(emb, lab)
    assert pairs(backend, a1, p) == []
    assert pairs(backend, a2, n) == [(1, 2), (2, 1)]
    a1, p, a2, n = PairMarginMiner(pos_margin=0.5, neg_margin=1.5)(emb, lab)
    assert pairs(backend, a1, p) == [(0, 1), (1, 0), (2, 3), (3, 2)]
    assert pairs(backend, a2, n) == [(0, 2), (1, 2), (1, 3), (2, 0), (2, 1), (3, 1)]
    # similarity: s01 = 0.8, s02 = 0, s03 = -0.6, s12 = 0.6, s13 = 0, s23 = 0.8
    a1, p, a2, n = PairMarginMiner(pos_margin=0.9, neg_margin=-0.1, distance=DotProductSimilarity())(emb, lab)
    assert pairs(backend, a1, p) == [(0, 1), (1, 0), (2, 3), (3, 2)]
    assert pairs(backend, a2, n) == [(0, 2), (1, 2), (1, 3), (2, 0), (2, 1), (3, 1)]
    # strict inequalities: a margin equal to a distance keeps nothing
    line = backend.asarray(LINE, dtype)
    llab = backend.asarray(LINE_LABELS, backend.xp.int64)
    a1, p, a2, n = PairMarginMiner(pos_margin=2.0, neg_margin=0.5, distance=l1())(line, llab)
    assert pairs(backend, a1, p) == [(0, 2), (2, 0)]
    assert pairs(backend, a2, n) == []


def test_multi_similarity_example(backend, dtype):
    emb = backend.asarray(np.array([[1.0, 0.0], [0.6, 0.8], [0.8, 0.6], [0.0, 1.0]]), dtype)
    lab = backend.asarray(UNIT_LABELS, backend.xp.int64)
    # cos: s01 = .6, s02 = .8, s03 = 0, s12 = .96, s13 = .8, s23 = .6
    a1, p, a2, n = MultiSimilarityMiner()(emb, lab)
    assert pairs(backend, a1, p) == [(0, 1), (1, 0), (2, 3), (3, 2)]
    assert pairs(backend, a2, n) == [(0, 2), (1, 2), (1, 3), (2, 0), (2, 1), (3, 1)]
    # a larger epsilon keeps every negative whose similarity + eps exceeds the anchor's weakest positive
    a1, p, a2, n = MultiSimilarityMiner(epsilon=0.7)(emb, lab)
    assert pairs(backend, a2, n) == [(0, 2), (0, 3), (1, 2), (1, 3), (2, 0), (2, 1), (3, 0), (3, 1)]


def test_multi_similarity_distance_example(backend, dtype):
    line = backend.asarray(LINE, dtype)
    lab = backend.asarray(LINE_LABELS, backend.xp.int64)
    # distances: keep (a, p) if d_ap + eps > min_n d_an ; (a, n) if d_an - eps < max_p d_ap
    a1, p, a2, n = MultiSimilarityMiner(epsilon=0.25, distance=l1())(line, lab)
    # anchor 0: min neg 0.5 -> both positives (1, 3); max pos 3 -> negs 0.5, 2.5
    # anchor 3 (x=.5, pos {4: 2}): min neg 0.5 -> pos kept; negs with d - .25 < 2: 0 (.5), 1 (.5)
    assert pairs(backend, a1, p) == [(0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1), (3, 4), (4, 3)]
    assert pairs(backend, a2, n) == [
        (0, 3), (0, 4), (1, 3), (1, 4), (2, 3), (2, 4), (3, 0), (3, 1), (4, 1), (4, 2)
    ]


STRATEGY_CASES = {
    # (pos, neg): (anchors, positives, negatives) on LINE with L1 distance
    ("hard", "hard"): ([0, 1, 2, 3, 4], [2, 2, 0, 4, 3], [3, 3, 4, 0, 2]),  # anchor 3: tie 0/1 -> 0
    ("easy", "semihard"): ([0, 1, 2, 3, 4], [1, 0, 1, 4, 3], [4, 4, 3, 2, 0]),
    ("semihard", "hard"): ([], [], []),  # the closest negative is closer than every positive
    ("semihard", "easy"): ([0, 1, 2, 3, 4], [1, 0, 1, 4, 3], [4, 4, 3, 2, 0]),
    ("hard", "easy"): ([0, 1, 2, 3, 4], [2, 2, 0, 4, 3], [4, 4, 3, 2, 0]),
    ("easy", "hard"): ([0, 1, 2, 3, 4], [1, 0, 1, 4, 3], [3, 3, 4, 0, 2]),
}


@pytest.mark.parametrize("strategies", sorted(STRATEGY_CASES))
def test_batch_easy_hard_strategies(backend, dtype, strategies):
    line = backend.asarray(LINE, dtype)
    lab = backend.asarray(LINE_LABELS, backend.xp.int64)
    a, p, n = STRATEGY_CASES[strategies]
    out = BatchEasyHardMiner(*strategies, distance=l1())(line, lab)
    check_indices(backend, out, 4)
    assert to_lists(backend, out) == [a, p, a, n]


def test_batch_easy_hard_all_and_ranges(backend, dtype):
    line = backend.asarray(LINE, dtype)
    lab = backend.asarray(LINE_LABELS, backend.xp.int64)
    a1, p, a2, n = BatchEasyHardMiner("all", "hard", distance=l1())(line, lab)
    assert pairs(backend, a1, p) == [(0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1), (3, 4), (4, 3)]
    assert pairs(backend, a2, n) == [(0, 3), (1, 3), (2, 4), (3, 0), (4, 2)]
    # inclusive range on the hard positive: the 3-distance pairs are excluded, 1 and 2 allowed
    out = BatchEasyHardMiner("hard", "hard", allowed_pos_range=(1.0, 2.0), distance=l1())(line, lab)
    assert to_lists(backend, out) == [[0, 1, 2, 3, 4], [1, 2, 1, 4, 3], [0, 1, 2, 3, 4], [3, 3, 4, 0, 2]]
    # a range that leaves anchor 1 without a negative (>= 1.6) drops it from both sides
    out = BatchEasyHardMiner("hard", "hard", allowed_neg_range=(1.6, 10), distance=l1())(line, lab)
    assert to_lists(backend, out) == [[0, 2, 3, 4], [2, 0, 4, 3], [0, 2, 3, 4], [4, 3, 2, 0]]
    # the range also applies to an "all" side (PML ignores it there)
    a1, p, a2, n = BatchEasyHardMiner("all", "easy", allowed_pos_range=(2.0, 2.0), distance=l1())(line, lab)
    assert pairs(backend, a1, p) == [(1, 2), (2, 1), (3, 4), (4, 3)]
    assert pairs(backend, a2, n) == [(0, 4), (1, 4), (2, 3), (3, 2), (4, 0)]
    a1, p, a2, n = BatchEasyHardMiner("all", "all", distance=l1())(line, lab)
    assert len(pairs(backend, a1, p)) == 8 and len(pairs(backend, a2, n)) == 12


def test_batch_hard_examples(backend, dtype):
    emb = backend.asarray(UNIT, dtype)
    lab = backend.asarray(UNIT_LABELS, backend.xp.int64)
    out = BatchHardMiner()(emb, lab)
    check_indices(backend, out, 3)
    assert to_lists(backend, out) == [[0, 1, 2, 3], [1, 0, 3, 2], [2, 2, 1, 1]]
    # with a similarity the hardest positive has the smallest and the hardest negative the largest value
    out = BatchHardMiner(distance=CosineSimilarity())(emb, lab)
    assert to_lists(backend, out) == [[0, 1, 2, 3], [1, 0, 3, 2], [2, 2, 1, 1]]
    line = backend.asarray(LINE, dtype)
    llab = backend.asarray(LINE_LABELS, backend.xp.int64)
    a, p, n = STRATEGY_CASES[("hard", "hard")]
    assert to_lists(backend, BatchHardMiner(distance=l1())(line, llab)) == [a, p, n]


def test_hdc_examples(backend, dtype):
    line = backend.asarray(LINE, dtype)
    lab = backend.asarray(LINE_LABELS, backend.xp.int64)
    a1, p, a2, n = HDCMiner(filter_percentage=0.5, distance=l1())(line, lab)
    # positives (8): values 3, 3, then four 2s tied for the last 2 places -> first two in row-major order
    assert pairs(backend, a1, p) == [(0, 2), (1, 2), (2, 0), (2, 1)]
    # negatives (12): the six 0.5-distance pairs, no tie split
    assert pairs(backend, a2, n) == [(0, 3), (1, 3), (2, 4), (3, 0), (3, 1), (4, 2)]
    # ceil: 0.3 * 8 = 2.4 -> 3 positives, 0.3 * 12 = 3.6 -> 4 negatives
    a1, p, a2, n = HDCMiner(filter_percentage=0.3, distance=l1())(line, lab)
    assert pairs(backend, a1, p) == [(0, 2), (1, 2), (2, 0)]
    assert pairs(backend, a2, n) == [(0, 3), (1, 3), (2, 4), (3, 0)]
    a1, p, a2, n = HDCMiner(filter_percentage=1.0, distance=l1())(line, lab)
    assert len(pairs(backend, a1, p)) == 8 and len(pairs(backend, a2, n)) == 12
    # a similarity (exact dot products of dyadic values): hardest positives are the least similar
    emb = backend.asarray(np.array([[1.0, 0.0], [1.0, 0.5], [0.0, 1.0], [-0.5, 0.5]]), dtype)
    ulab = backend.asarray(UNIT_LABELS, backend.xp.int64)
    a1, p, a2, n = HDCMiner(filter_percentage=0.5, distance=DotProductSimilarity(normalize_embeddings=False))(emb, ulab)
    # positives: s01 = 1, s23 = 0.5; negatives: s12 = .5, s02 = 0, s13 = -.25, s03 = -.5
    assert pairs(backend, a1, p) == [(2, 3), (3, 2)]
    assert pairs(backend, a2, n) == [(0, 2), (1, 2), (2, 0), (2, 1)]
    # ties between similarities: all four positives equal -> the first two in row-major order
    emb = backend.asarray(np.array([[1.0, 0.0], [1.0, 0.5], [0.0, 1.0], [-0.5, 1.0]]), dtype)
    a1, p, a2, n = HDCMiner(filter_percentage=0.5, distance=DotProductSimilarity(normalize_embeddings=False))(emb, ulab)
    assert pairs(backend, a1, p) == [(0, 1), (1, 0)]
    # negatives: .5 twice, then four 0s tied for two places
    assert pairs(backend, a2, n) == [(0, 2), (1, 2), (1, 3), (2, 1)]


def test_hdc_external_indices(backend, dtype):
    line = backend.asarray(LINE, dtype)
    lab = backend.asarray(LINE_LABELS, backend.xp.int64)
    miner = HDCMiner(filter_percentage=0.5, distance=l1())
    assert not miner.was_set_externally
    # triplets (a, p, n) are used as pairs (a, p, a, n); order of the given pairs is kept
    ext = (
        backend.asarray(np.array([1, 0, 3, 2]), backend.xp.int64),
        backend.asarray(np.array([0, 2, 4, 1]), backend.xp.int64),
        backend.asarray(np.array([4, 3, 0, 3]), backend.xp.int64),
    )
    miner.set_idx_externally(ext, lab)
    assert miner.was_set_externally
    a1, p, a2, n = miner(line, lab)
    check_indices(backend, (a1, p, a2, n), 4)
    # positive values (1,0)=1, (0,2)=3, (3,4)=2, (2,1)=2 -> 2 hardest: 3, then the first 2 -> (3, 4)
    assert pairs(backend, a1, p) == [(0, 2), (3, 4)]
    # negative values (1,4)=1.5, (0,3)=.5, (3,0)=.5, (2,3)=2.5 -> 2 hardest (smallest): (0,3), (3,0)
    assert pairs(backend, a2, n) == [(0, 3), (3, 0)]
    # repeated calls filter the pairs that were set, not the previous result (PML compounds)
    assert to_lists(backend, miner(line, lab)) == to_lists(backend, (a1, p, a2, n))
    # host lists work, pairs pass through
    miner.set_idx_externally(([0, 1], [1, 2], [0], [4]), lab)
    assert to_lists(backend, miner(line, lab)) == [[1], [2], [0], [4]]
    miner.reset_idx()
    assert not miner.was_set_externally
    a1, p, a2, n = miner(line, lab)
    assert len(pairs(backend, a1, p)) == 4 and len(pairs(backend, a2, n)) == 6
    # None means all pairs
    miner.set_idx_externally(None, lab)
    assert to_lists(backend, miner(line, lab)) == to_lists(backend, (a1, p, a2, n))


def test_uniform_histogram_bins(backend, dtype):
    line = backend.asarray(LINE, dtype)
    lab = backend.asarray(LINE_LABELS, backend.xp.int64)
    miner = UniformHistogramMiner(num_bins=2, pos_per_bin=3, neg_per_bin=2, rng=1, distance=l1())
    a1, p, a2, n = miner(line, lab)
    check_indices(backend, (a1, p, a2, n), 4)
    d = np.abs(LINE[:, 0][:, None] - LINE[:, 0][None, :])
    pp, nn = pairs(backend, a1, p), pairs(backend, a2, n)
    assert len(pp) == 6 and len(nn) == 4
    # positive values 1..3 -> bin 0 = [1, 2) = {(0,1), (1,0)}; bin 1 = [2, 3]; bins in order, 3 draws each
    assert all(d[i, j] == 1 for i, j in pp[:3]) and all(d[i, j] >= 2 for i, j in pp[3:])
    # negative values 0.5..2.5 -> bin 0 = {0.5}, bin 1 = {1.5, 2.5}
    assert all(d[i, j] == 0.5 for i, j in nn[:2]) and all(d[i, j] >= 1.5 for i, j in nn[2:])
    assert all(LINE_LABELS[i] == LINE_LABELS[j] and i != j for i, j in pp)
    assert all(LINE_LABELS[i] != LINE_LABELS[j] for i, j in nn)
    # one bin holding everything, and zero draws on one side
    a1, p, a2, n = UniformHistogramMiner(num_bins=1, pos_per_bin=5, neg_per_bin=0, rng=0, distance=l1())(line, lab)
    assert len(pairs(backend, a1, p)) == 5 and len(pairs(backend, a2, n)) == 0
    # all values equal (duplicate points): one non-empty bin
    same = backend.asarray(np.zeros((4, 2)), dtype)
    a1, p, a2, n = UniformHistogramMiner(num_bins=10, pos_per_bin=4, neg_per_bin=4, rng=0)(same, [0, 0, 1, 1])
    assert len(pairs(backend, a1, p)) == 4 and len(pairs(backend, a2, n)) == 4


def test_uniform_histogram_same_seed_same_output(backend, dtype):
    rng = np.random.default_rng(0)
    emb = backend.asarray(rng.normal(size=(16, 4)), dtype)
    lab = backend.asarray(np.arange(16) % 4, backend.xp.int64)
    first = to_lists(backend, UniformHistogramMiner(num_bins=4, rng=7)(emb, lab))
    again = to_lists(backend, UniformHistogramMiner(num_bins=4, rng=np.random.default_rng(7))(emb, lab))
    assert first == again
    miner = UniformHistogramMiner(num_bins=4, rng=7)
    assert to_lists(backend, miner(emb, lab)) == first
    assert to_lists(backend, miner(emb, lab)) != first  # the generator advances between calls


# -- reference set -----------------------------------------------------------------------------


def test_reference_set_keeps_self_pairs(backend, dtype):
    q = backend.asarray(np.array([[0.0], [3.0]]), dtype)
    qlab = backend.asarray(np.array([0, 1]), backend.xp.int64)
    r = backend.asarray(np.array([[0.0], [1.0], [3.0], [2.5]]), dtype)
    rlab = backend.asarray(np.array([0, 0, 1, 1]), backend.xp.int64)
    out = BatchHardMiner(distance=l1())(q, qlab, r, rlab)
    assert to_lists(backend, out) == [[0, 1], [1, 3], [3, 1]]
    # identical rows in the reference set are positives (distance 0) with a reference set
    a1, p, a2, n = HDCMiner(filter_percentage=1.0, distance=l1())(q, qlab, r, rlab)
    assert pairs(backend, a1, p) == [(0, 0), (0, 1), (1, 2), (1, 3)]
    assert pairs(backend, a2, n) == [(0, 2), (0, 3), (1, 0), (1, 1)]
    a1, p, a2, n = PairMarginMiner(pos_margin=0.2, neg_margin=2.5, distance=l1())(q, qlab, r, rlab)
    assert pairs(backend, a1, p) == [(0, 1), (1, 3)]
    assert pairs(backend, a2, n) == [(1, 1)]
    a1, p, a2, n = BatchEasyHardMiner("easy", "hard", distance=l1())(q, qlab, r, rlab)
    assert pairs(backend, a1, p) == [(0, 0), (1, 2)] and pairs(backend, a2, n) == [(0, 3), (1, 1)]
    a1, p, a2, n = MultiSimilarityMiner(epsilon=1.6, distance=l1())(q, qlab, r, rlab)
    # anchor 0: min neg 2.5 -> positives with d + 1.6 > 2.5: r1 (1), not r0 (0); max pos 1 -> r3 (2.5)
    # anchor 1: min neg 2 -> r3 (.5), not r2 (0); max pos .5 -> r1 (2)
    assert pairs(backend, a1, p) == [(0, 1), (1, 3)]
    assert pairs(backend, a2, n) == [(0, 3), (1, 1)]


# -- statistics --------------------------------------------------------------------------------


def test_stats(backend, dtype):
    line = backend.asarray(LINE, dtype)
    lab = backend.asarray(LINE_LABELS, backend.xp.int64)
    miner = PairMarginMiner(distance=l1())
    miner(line, lab)
    assert miner.stats == {}
    miner = PairMarginMiner(pos_margin=1.5, neg_margin=1.0, collect_stats=True, distance=l1())
    a1, p, a2, n = miner(line, lab)
    assert float(backend.to_numpy(miner.stats["pos_pair_dist"])) == pytest.approx(16 / 8)
    assert float(backend.to_numpy(miner.neg_pair_dist)) == pytest.approx(16 / 12)
    assert miner.num_pos_pairs == int(a1.shape[0]) == 6 and miner.num_neg_pairs == int(a2.shape[0]) == 6
    miner = BatchHardMiner(collect_stats=True, distance=l1())
    miner(line, lab)
    st = {k: float(backend.to_numpy(v)) for k, v in miner.stats.items() if k != "num_triplets"}
    # hard positives 3, 2, 3, 2, 2; hard negatives .5 x 5
    assert st == {
        "easiest_pos_pair": 2.0,
        "hardest_pos_pair": 3.0,
        "easiest_neg_pair": 0.5,
        "hardest_neg_pair": 0.5,
        "easiest_triplet": 1.5,
        "hardest_triplet": 2.5,
    }
    assert miner.num_triplets == 5
    miner = BatchEasyHardMiner("all", "hard", collect_stats=True, distance=l1())
    miner(line, backend.asarray(np.arange(5), backend.xp.int64))  # no positives at all
    assert float(backend.to_numpy(miner.stats["easiest_pos_pair"])) == 0.0
    assert float(backend.to_numpy(miner.stats["easiest_triplet"])) == 0.0


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, exc, match",
    [
        (lambda: PairMarginMiner(pos_margin=float("nan")), ValueError, "pos_margin"),
        (lambda: PairMarginMiner(neg_margin=float("inf")), ValueError, "neg_margin"),
        (lambda: PairMarginMiner(pos_margin=True), TypeError, "pos_margin"),
        (lambda: PairMarginMiner(pos_margin="0.2"), TypeError, "pos_margin"),
        (lambda: PairMarginMiner(distance="cosine"), TypeError, "distance"),
        (lambda: MultiSimilarityMiner(epsilon=-0.1), ValueError, "epsilon"),
        (lambda: MultiSimilarityMiner(epsilon=None), TypeError, "epsilon"),
        (lambda: HDCMiner(filter_percentage=0), ValueError, "filter_percentage"),
        (lambda: HDCMiner(filter_percentage=1.01), ValueError, "filter_percentage"),
        (lambda: HDCMiner(filter_percentage=-0.5), ValueError, "filter_percentage"),
        (lambda: HDCMiner(filter_percentage="half"), TypeError, "filter_percentage"),
        (lambda: BatchEasyHardMiner(pos_strategy="hardest"), ValueError, "pos_strategy"),
        (lambda: BatchEasyHardMiner(neg_strategy=None), ValueError, "neg_strategy"),
        (lambda: BatchEasyHardMiner("semihard", "semihard"), ValueError, "both"),
        (lambda: BatchEasyHardMiner("semihard", "all"), ValueError, "all"),
        (lambda: BatchEasyHardMiner("all", "semihard"), ValueError, "all"),
        (lambda: BatchEasyHardMiner(allowed_pos_range=(1.0, 0.5)), ValueError, "lo <= hi"),
        (lambda: BatchEasyHardMiner(allowed_neg_range=(0.5,)), ValueError, "allowed_neg_range"),
        (lambda: BatchEasyHardMiner(allowed_neg_range=(0.0, float("nan"))), ValueError, "allowed_neg_range"),
        (lambda: BatchHardMiner(allowed_pos_range=(2, 1)), ValueError, "allowed_pos_range"),
        (lambda: UniformHistogramMiner(num_bins=0), ValueError, "num_bins"),
        (lambda: UniformHistogramMiner(num_bins=2.5), TypeError, "num_bins"),
        (lambda: UniformHistogramMiner(pos_per_bin=-1), ValueError, "pos_per_bin"),
        (lambda: UniformHistogramMiner(neg_per_bin=1.0), TypeError, "neg_per_bin"),
        (lambda: UniformHistogramMiner(rng="seed"), TypeError, "rng"),
    ],
)
def test_constructor_errors(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


def test_negative_margins_allowed_for_similarities():
    m = PairMarginMiner(pos_margin=-0.5, neg_margin=-0.2, distance=CosineSimilarity())
    assert (m.pos_margin, m.neg_margin) == (-0.5, -0.2)
    assert BatchEasyHardMiner(allowed_pos_range=(-1, float("inf"))).allowed_pos_range == (-1.0, math.inf)


def test_hdc_external_errors(backend):
    emb = backend.asarray(LINE, backend.xp.float64)
    miner = HDCMiner(distance=l1())
    with pytest.raises(ValueError, match="external_indices_tuple"):
        miner.set_idx_externally(([0], [1]), LINE_LABELS)
    miner.set_idx_externally(([0], [7], [0], [3]), LINE_LABELS)
    with pytest.raises(ValueError, match="reference indices must be in"):
        miner(emb, LINE_LABELS)
    miner.set_idx_externally(([-1], [1], [0], [3]), LINE_LABELS)
    with pytest.raises(ValueError, match="anchor indices must be in"):
        miner(emb, LINE_LABELS)
    miner.set_idx_externally(([0, 1], [1], [0], [3]), LINE_LABELS)
    with pytest.raises(ValueError, match="len"):
        miner(emb, LINE_LABELS)


def test_pair_margin_accepts_negative_margins_on_a_distance(backend):
    """PML gives negative margins a meaning: every positive pair (pos_margin < 0) and no
    negative pair (neg_margin < 0); found by running PML's own code against ours."""
    emb = backend.asarray(LINE, backend.xp.float64)
    lab = backend.asarray(LINE_LABELS)
    a1, p, a2, n = PairMarginMiner(pos_margin=-0.1, neg_margin=-1, distance=l1())(emb, lab)
    assert len(backend.to_numpy(a1)) == 3 * 2 + 2 * 1  # every ordered positive pair
    assert len(backend.to_numpy(a2)) == 0  # no negative pair
