"""Triplet miners on every backend: hand-checked cases, brute-force completeness, edges, errors.

TripletMarginMiner, AngularMiner, DistanceWeightedMiner and
EmbeddingsAlreadyPackagedAsTriplets. References are plain NumPy loops/cubes (fine at the
small N used here); the margin references evaluate PML's expression ``m = d_an - d_ap``
(``s_ap - s_an`` for similarities) on *our* distance matrix in its own dtype, so the
comparison is exact, ties included. The contract shared by every miner (empty outputs,
an empty reference set, call errors) is tested per catalogue entry in
``test_miner_contract.py``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from agnostic_ml.distances import CosineSimilarity, DotProductSimilarity, LpDistance
from agnostic_ml.miners import (
    AngularMiner,
    DistanceWeightedMiner,
    EmbeddingsAlreadyPackagedAsTriplets,
    TripletMarginMiner,
)
from agnostic_ml.miners import _triplet_blocks
from agnostic_ml.testing import check_miner_output
from helpers import assert_array, to_set, triplet_cube, unit

TYPES = ["all", "hard", "semihard", "easy"]


# -- references -----------------------------------------------------------------------------


def keep_by_type(m, margin, kind):
    margin = m.dtype.type(margin)
    if kind == "easy":
        return m > margin
    keep = m <= margin
    if kind == "hard":
        keep &= m <= 0
    elif kind == "semihard":
        keep &= m > 0
    return keep


def ref_triplet_margin(mat, lab, rlab, self_ref, margin, kind, inverted):
    a, p, n = triplet_cube(lab, rlab, self_ref)
    ap, an = mat[a, p], mat[a, n]
    m = ap - an if inverted else an - ap
    keep = keep_by_type(m, margin, kind)
    return set(zip(a[keep].tolist(), p[keep].tolist(), n[keep].tolist()))


def ref_angles(emb, ref, lab, rlab, self_ref):
    """float64 angles of all triplets, from the normalised embeddings."""
    e, r = unit(emb.astype(np.float64)), unit(ref.astype(np.float64))
    a, p, n = triplet_cube(lab, rlab, self_ref)
    ap = np.linalg.norm(e[a] - r[p], axis=1)
    nc = np.linalg.norm(r[n] - (e[a] + r[p]) / 2, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ang = np.arctan(ap / (2 * nc))
    return a, p, n, ang


def assert_same_up_to_borderline(got, a, p, n, value, threshold, tol):
    """``got`` equals ``{value > threshold}`` except for triplets within ``tol`` of it."""
    want = value > threshold
    sure = np.abs(value - threshold) > tol
    exp_in = set(zip(a[want & sure].tolist(), p[want & sure].tolist(), n[want & sure].tolist()))
    exp_out = set(zip(a[~want & sure].tolist(), p[~want & sure].tolist(), n[~want & sure].tolist()))
    assert exp_in <= got, f"missing triplets: {sorted(exp_in - got)[:5]}"
    assert not (exp_out & got), f"unexpected triplets: {sorted(exp_out & got)[:5]}"


def check_triplets(backend, out, lab, rlab=None, **kw):
    """Namespace, device, int64, and the kit's invariants (labels, ranges, self pairs, duplicates)."""
    for t in out:
        assert_array(t, backend, dtype=backend.xp.int64)
    return check_miner_output(out, lab, rlab, expected_kind="triplets", **kw)


# -- TripletMarginMiner: hand-checked ------------------------------------------------------------

# 1-D points 0, 1, 5, 2 with labels 0, 0, 1, 1: every distance is an integer (exact in any
# dtype), so m = d_an - d_ap takes the exact values below and margin = 1 is hit exactly.
#   (a, p, n): m   (0,1,2): 4  (0,1,3): 1  (1,0,2): 3  (1,0,3): 0
#              (2,3,0): 2  (2,3,1): 1  (3,2,0): -1  (3,2,1): -2
LINE = np.array([[0.0], [1.0], [5.0], [2.0]])
LINE_LABELS = np.array([0, 0, 1, 1])
LINE_EXPECTED = {
    "all": {(0, 1, 3), (1, 0, 3), (2, 3, 1), (3, 2, 0), (3, 2, 1)},  # m <= 1: ties at 1 and 0 kept
    "hard": {(1, 0, 3), (3, 2, 0), (3, 2, 1)},  # m <= 0: the tie m == 0 counts as hard
    "semihard": {(0, 1, 3), (2, 3, 1)},  # 0 < m <= 1
    "easy": {(0, 1, 2), (1, 0, 2), (2, 3, 0)},  # m > 1
}

# 1-D dot products (similarity, no normalisation): values 1, 2, -1, 3, labels 0, 0, 1, 1.
# m = s_ap - s_an:  (0,1,2): 3  (0,1,3): -1  (1,0,2): 4  (1,0,3): -4
#                   (2,3,0): -2  (2,3,1): -1  (3,2,0): -6  (3,2,1): -9
DOT = np.array([[1.0], [2.0], [-1.0], [3.0]])
DOT_EXPECTED = {
    "all": {(0, 1, 2), (0, 1, 3), (1, 0, 3), (2, 3, 0), (2, 3, 1), (3, 2, 0), (3, 2, 1)},  # m <= 3
    "hard": {(0, 1, 3), (1, 0, 3), (2, 3, 0), (2, 3, 1), (3, 2, 0), (3, 2, 1)},
    "semihard": {(0, 1, 2)},  # the tie m == 3 is semihard
    "easy": {(1, 0, 2)},
}


@pytest.mark.parametrize("kind", TYPES)
def test_triplet_margin_hand_checked_distance(backend, dtype, kind):
    miner = TripletMarginMiner(margin=1, type_of_triplets=kind, distance=LpDistance(normalize_embeddings=False))
    out = miner(backend.asarray(LINE, dtype), backend.asarray(LINE_LABELS))
    check_triplets(backend, out, LINE_LABELS)
    assert to_set(backend, out) == LINE_EXPECTED[kind]
    assert out[0].shape[0] == len(LINE_EXPECTED[kind])


@pytest.mark.parametrize("kind", TYPES)
def test_triplet_margin_hand_checked_similarity(backend, dtype, kind):
    miner = TripletMarginMiner(margin=3, type_of_triplets=kind, distance=DotProductSimilarity(normalize_embeddings=False))
    out = miner(backend.asarray(DOT, dtype), backend.asarray(LINE_LABELS))
    check_triplets(backend, out, LINE_LABELS)
    assert to_set(backend, out) == DOT_EXPECTED[kind]


def test_triplet_margin_order(backend):
    """(a, p) lexicographic like PML; within a pair the negatives come nearest first."""
    emb = np.array([[0.0], [1.0], [3.0], [2.0], [-4.0]])
    lab = np.array([0, 0, 1, 1, 2])
    out = TripletMarginMiner(margin=10, distance=LpDistance(normalize_embeddings=False))(
        backend.asarray(emb, backend.xp.float64), backend.asarray(lab)
    )
    got = list(zip(*(backend.to_numpy(t).tolist() for t in out)))
    # anchor 0: negatives by distance 2 (d=2), 2 (3), 4 (4); anchor 1: 3 (1), 2 (2), 4 (5)
    assert got[:6] == [(0, 1, 3), (0, 1, 2), (0, 1, 4), (1, 0, 3), (1, 0, 2), (1, 0, 4)]
    assert [t[:2] for t in got] == sorted(t[:2] for t in got)


# -- TripletMarginMiner: completeness on random data -----------------------------------------


@pytest.mark.parametrize("dist", ["lp", "cos"])
@pytest.mark.parametrize("with_ref", [False, True])
def test_triplet_margin_equals_brute_force(backend, dtype, dist, with_ref):
    rng = np.random.default_rng(7)
    n, m = 23, 17
    emb = rng.normal(size=(n, 5))
    lab = rng.integers(0, 4, n)
    ref, rlab = (rng.normal(size=(m, 5)), rng.integers(0, 5, m)) if with_ref else (None, None)
    if with_ref:
        ref[:3] = emb[:3]  # identical rows in the reference set count as positives
        rlab[:3] = lab[:3]
    e = backend.asarray(emb, dtype)
    r = None if ref is None else backend.asarray(ref, dtype)
    distance = LpDistance() if dist == "lp" else CosineSimilarity()
    mat = backend.to_numpy(distance(e, r))
    for kind in TYPES:
        for margin in (0.0, 0.1, 0.4, -0.1):
            miner = TripletMarginMiner(margin=margin, type_of_triplets=kind, distance=distance)
            out = miner(e, lab) if ref is None else miner(e, lab, r, rlab)
            check_triplets(backend, out, lab, rlab)
            want = ref_triplet_margin(mat, lab, lab if rlab is None else rlab, ref is None, margin, kind, distance.is_inverted)
            assert to_set(backend, out) == want, (kind, margin)


def test_triplet_margin_ref_keeps_identical_rows(backend, dtype):
    """With ref_emb, nothing is removed: (i, i) with the same label is a valid positive pair.

    As in PML the rule is an identity test (``ref_labels is labels``): passing the very
    same labels object as ``ref_labels`` still counts as "no separate reference set".
    """
    emb = np.array([[0.0], [1.0], [5.0]])
    lab = np.array([0, 0, 1])
    e = backend.asarray(emb, dtype)
    miner = TripletMarginMiner(margin=100, distance=LpDistance(normalize_embeddings=False))
    got = to_set(backend, miner(e, lab, e, lab.copy()))
    assert got == {(0, 0, 2), (0, 1, 2), (1, 0, 2), (1, 1, 2), (2, 2, 0), (2, 2, 1)}
    same_object = backend.asarray(lab)
    assert to_set(backend, miner(e, same_object, e, same_object)) == {(0, 1, 2), (1, 0, 2)}


def test_triplet_margin_blocked_paths_agree(backend, monkeypatch):
    """Many anchor blocks and many emission steps (tiny budgets) give the same triplets."""
    rng = np.random.default_rng(3)
    emb = backend.asarray(rng.normal(size=(30, 4)), backend.xp.float64)
    lab = rng.integers(0, 3, 30)
    miners = [TripletMarginMiner(margin=0.3, type_of_triplets=k) for k in TYPES]
    expected = [miner(emb, lab) for miner in miners]
    monkeypatch.setattr(_triplet_blocks, "BLOCK_ELEMENTS", 61)  # 2 anchor rows per block
    monkeypatch.setattr(_triplet_blocks, "EMIT_ELEMENTS", 7)
    monkeypatch.setattr(_triplet_blocks, "ONE_STEP_ELEMENTS", 7)
    for miner, want in zip(miners, expected):
        got = miner(emb, lab)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(backend.to_numpy(g), backend.to_numpy(w))


def test_triplet_margin_stats(backend, dtype):
    rng = np.random.default_rng(1)
    emb = rng.normal(size=(12, 3))
    lab = rng.integers(0, 3, 12)
    e = backend.asarray(emb, dtype)
    miner = TripletMarginMiner(margin=0.2, type_of_triplets="hard", collect_stats=True)
    miner(e, lab)
    mat = backend.to_numpy(miner.distance(e)).astype(np.float64)
    a, p, n = triplet_cube(lab, lab, True)
    tol = 1e-4 if dtype == backend.xp.float32 else 1e-10
    assert abs(float(backend.to_numpy(miner.stats["pos_pair_dist"])) - mat[a, p].mean()) < tol
    assert abs(float(backend.to_numpy(miner.stats["neg_pair_dist"])) - mat[a, n].mean()) < tol
    assert abs(float(backend.to_numpy(miner.avg_triplet_margin)) - (mat[a, n] - mat[a, p]).mean()) < tol
    assert miner.num_triplets == len(to_set(backend, miner(e, lab)))
    quiet = TripletMarginMiner()
    quiet(e, lab)
    assert "pos_pair_dist" not in quiet.stats  # nothing is computed unless asked for


# -- AngularMiner ------------------------------------------------------------------------------------


@pytest.mark.parametrize("with_ref", [False, True])
def test_angular_matches_float64_reference(backend, dtype, with_ref):
    rng = np.random.default_rng(5)
    emb = rng.normal(size=(20, 3)) * rng.uniform(0.5, 3.0, size=(20, 1))  # non-unit norms
    lab = rng.integers(0, 3, 20)
    ref, rlab = (rng.normal(size=(14, 3)), rng.integers(0, 3, 14)) if with_ref else (emb, lab)
    e = backend.asarray(emb, dtype)
    tol = 1e-4 if dtype == backend.xp.float32 else 1e-9
    a, p, n, ang = ref_angles(emb, ref, lab, rlab, not with_ref)
    for angle in (0, 10, 20, 45, 70):
        miner = AngularMiner(angle=angle)
        out = miner(e, lab) if not with_ref else miner(e, lab, backend.asarray(ref, dtype), rlab)
        got = to_set(backend, out)
        check_triplets(backend, out, lab, rlab if with_ref else None)
        assert_same_up_to_borderline(got, a, p, n, ang, math.radians(angle), tol)
        if angle == 0:
            assert len(got) == len(a)  # every triplet has a positive angle (no duplicate a == p)


def test_angular_hand_checked(backend, dtype):
    # unit vectors at 0, 20 (class 0) and 100, 200 degrees (class 1)
    t = np.radians([0.0, 20.0, 100.0, 200.0])
    emb = np.stack([np.cos(t), np.sin(t)], axis=1)
    out = AngularMiner(angle=20)(backend.asarray(emb, dtype), [0, 0, 1, 1])
    check_triplets(backend, out, [0, 0, 1, 1])
    assert list(zip(*(backend.to_numpy(x).tolist() for x in out))) == [(2, 3, 0), (2, 3, 1), (3, 2, 0), (3, 2, 1)]
    # the order is PML's: lexicographic
    assert to_set(backend, AngularMiner(angle=5)(backend.asarray(emb, dtype), [0, 0, 1, 1])) >= to_set(backend, out)


def test_angular_identical_anchor_positive_has_no_angle(backend, dtype):
    emb = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0]])  # rows 0 and 1 normalise to the same point
    out = AngularMiner(angle=0)(backend.asarray(emb, dtype), [0, 0, 1])
    assert to_set(backend, out) == set()


def test_angular_stats(backend, dtype):
    rng = np.random.default_rng(2)
    emb = rng.normal(size=(10, 3))
    lab = rng.integers(0, 2, 10)
    miner = AngularMiner(angle=30, collect_stats=True)
    miner(backend.asarray(emb, dtype), lab)
    *_, ang = ref_angles(emb, emb, lab, lab, True)
    deg = np.degrees(ang)
    tol = 1e-2 if dtype == backend.xp.float32 else 1e-7
    s = {k: float(backend.to_numpy(v)) for k, v in miner.stats.items() if k != "num_triplets"}
    assert abs(s["average_angle"] - deg.mean()) < tol
    assert abs(s["min_angle"] - deg.min()) < tol and abs(s["max_angle"] - deg.max()) < tol
    assert abs(s["std_of_angle"] - deg.std(ddof=1)) < tol * 10
    assert abs(s["average_angle_above_threshold"] - deg[deg > 30].mean()) < tol
    assert abs(s["average_angle_below_threshold"] - deg[deg <= 30].mean()) < tol


# -- DistanceWeightedMiner --------------------------------------------------------------------------


def ref_dw_weights(emb, ref, lab, rlab, cutoff, nonzero):
    e, r = unit(emb.astype(np.float64)), unit(ref.astype(np.float64))
    d = np.maximum(np.linalg.norm(e[:, None] - r[None], axis=2), cutoff)
    dim = emb.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        logw = (2 - dim) * np.log(d) - (dim - 3) / 2 * np.log(1 - d**2 / 4)
    ok = (lab[:, None] != rlab[None, :]) & np.isfinite(logw) & (d < nonzero)
    w = np.where(ok, np.exp(np.where(ok, logw, -np.inf) - np.max(np.where(ok, logw, -np.inf), axis=1, keepdims=True)), 0)
    return np.nan_to_num(w)


@pytest.mark.parametrize("with_ref", [False, True])
def test_distance_weighted_weights(backend, dtype, with_ref):
    rng = np.random.default_rng(4)
    emb = rng.normal(size=(16, 6))
    lab = rng.integers(0, 3, 16)
    ref, rlab = (rng.normal(size=(11, 6)), rng.integers(0, 3, 11)) if with_ref else (emb, lab)
    miner = DistanceWeightedMiner(cutoff=0.5, nonzero_loss_cutoff=1.4)
    e = backend.asarray(emb, dtype)
    w = miner.weights(e, backend.asarray(lab), None if not with_ref else backend.asarray(ref, dtype),
                      None if not with_ref else backend.asarray(rlab))
    want = ref_dw_weights(emb, ref, lab, rlab, 0.5, 1.4)
    got = backend.to_numpy(w)
    assert got.shape == want.shape
    # normalised per row (the sampling distribution)
    gs, ws = got.sum(1, keepdims=True), want.sum(1, keepdims=True)
    np.testing.assert_allclose(got / np.where(gs > 0, gs, 1), want / np.where(ws > 0, ws, 1), rtol=2e-3, atol=1e-6)
    assert np.all(got[lab[:, None] == rlab[None, :]] == 0)


def test_distance_weighted_output(backend, dtype):
    rng = np.random.default_rng(6)
    emb = rng.normal(size=(24, 4))
    lab = np.repeat(np.arange(6), 4)
    e = backend.asarray(emb, dtype)
    miner = DistanceWeightedMiner(cutoff=0.5, nonzero_loss_cutoff=1.4, rng=0)
    out = miner(e, lab)
    host = check_triplets(backend, out, lab, allow_duplicates=True, embeddings=e)
    a, p, n = host
    d = backend.to_numpy(miner.distance(e)).astype(np.float64)
    assert np.all(d[a, n] < 1.4 + 1e-5)  # only negatives below nonzero_loss_cutoff
    w = ref_dw_weights(emb, emb, lab, lab, 0.5, 1.4)
    assert np.all(w[a, n] > 0)
    # as PML: every anchor that has a usable negative gets class-size (4) triplets
    counts = np.bincount(a, minlength=24)
    assert set(counts.tolist()) <= {0, 4}
    assert np.all((counts == 4) == (w.sum(1) > 0))


def test_distance_weighted_same_seed_same_output(backend, dtype):
    rng = np.random.default_rng(8)
    emb, lab = rng.normal(size=(20, 5)), rng.integers(0, 4, 20)
    e = backend.asarray(emb, dtype)
    one = DistanceWeightedMiner(rng=123)(e, lab)
    two = DistanceWeightedMiner(rng=123)(e, lab)
    for x, y in zip(one, two):
        np.testing.assert_array_equal(backend.to_numpy(x), backend.to_numpy(y))
    miner = DistanceWeightedMiner(rng=123)
    miner(e, lab)
    later = miner(e, lab)  # the generator moves on between calls
    assert any(not np.array_equal(backend.to_numpy(x), backend.to_numpy(y)) for x, y in zip(one, later))


def test_distance_weighted_all_far_gives_nothing(backend, dtype):
    # two antipodal classes: every negative is at distance 2 >= nonzero_loss_cutoff
    emb = np.array([[1.0, 0.0], [1.0, 0.0], [-1.0, 0.0], [-1.0, 0.0]])
    out = DistanceWeightedMiner(rng=0)(backend.asarray(emb, dtype), [0, 0, 1, 1])
    for t in out:
        assert_array(t, backend, dtype=backend.xp.int64, shape=(0,))


# -- EmbeddingsAlreadyPackagedAsTriplets -----------------------------------------------------------


def test_packaged_triplets(backend, dtype):
    emb = backend.asarray(np.zeros((9, 2)), dtype)
    out = EmbeddingsAlreadyPackagedAsTriplets()(emb, [0] * 9)
    for t, start in zip(out, range(3)):
        assert_array(t, backend, dtype=backend.xp.int64, shape=(3,))
        assert backend.to_numpy(t).tolist() == list(range(start, 9, 3))


@pytest.mark.parametrize("n", [1, 2, 4, 7])
def test_packaged_triplets_bad_length(backend, n):
    with pytest.raises(ValueError, match="multiple of 3"):
        EmbeddingsAlreadyPackagedAsTriplets()(backend.asarray(np.zeros((n, 2)), backend.xp.float32), [0] * n)


# -- bad input --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["ALL", "semi-hard", "", None, 3])
def test_unknown_type_of_triplets(kind):
    with pytest.raises(ValueError, match="type_of_triplets"):
        TripletMarginMiner(type_of_triplets=kind)


@pytest.mark.parametrize("margin", [float("nan"), float("inf"), True, "0.2", None])
def test_bad_margin(margin):
    with pytest.raises(ValueError, match="margin"):
        TripletMarginMiner(margin=margin)


@pytest.mark.parametrize("angle", [-1, 90, 180, float("nan"), True, "20"])
def test_bad_angle(angle):
    with pytest.raises(ValueError, match="angle"):
        AngularMiner(angle=angle)


@pytest.mark.parametrize(
    "distance",
    [CosineSimilarity(), LpDistance(normalize_embeddings=False), LpDistance(p=1), LpDistance(power=2)],
)
@pytest.mark.parametrize("cls", [AngularMiner, DistanceWeightedMiner])
def test_wrong_distance(cls, distance):
    with pytest.raises(ValueError, match=r"LpDistance\(p=2, power=1, normalize_embeddings=True\)"):
        cls(distance=distance)


@pytest.mark.parametrize("arg", ["cutoff", "nonzero_loss_cutoff"])
def test_distance_weighted_bad_cutoffs(arg):
    with pytest.raises(ValueError, match=arg):
        DistanceWeightedMiner(**{arg: float("nan")})


def test_distance_not_a_distance():
    with pytest.raises(TypeError, match="distance"):
        TripletMarginMiner(distance="euclidean")


@pytest.mark.parametrize("make", [lambda: TripletMarginMiner(), lambda: AngularMiner(), lambda: DistanceWeightedMiner(rng=0)])
def test_non_finite_embeddings(backend, dtype, make):
    x = np.random.default_rng(0).normal(size=(4, 3))
    x[2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        make()(backend.asarray(x, dtype), [0, 0, 1, 1])


def test_packaged_triplets_bad_shapes(backend):
    """The other miners: ``test_miner_contract.py::test_call_errors``."""
    make = EmbeddingsAlreadyPackagedAsTriplets
    e = backend.asarray(np.zeros((3, 2)), backend.xp.float32)
    with pytest.raises(ValueError, match="labels"):
        make()(e, [0, 1])
    with pytest.raises(ValueError, match="2-D"):
        make()(backend.asarray(np.zeros(3), backend.xp.float32), [0, 1, 2])
    with pytest.raises(ValueError, match="ref_labels"):
        make()(e, [0, 1, 2], e)
