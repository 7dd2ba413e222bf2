"""Triplet miners against PML 2.9 (torch tensors into PML, the same data into ours).

- TripletMarginMiner: the *set* of triplets equals PML's (the order within an (a, p) group
  differs by design: nearest negative first). Random data is compared exactly except for
  triplets whose float64 margin lies within rounding of a threshold (PML computes the
  matrix with ``torch.cdist``, we with the Gram identity, so such a triplet may fall on
  either side); on integer data all distances are exact and ties are compared exactly.
- AngularMiner: PML materialises T x D tensors, so N <= 64 here. On unit-norm inputs the
  sets agree (up to angles within rounding of the threshold; PML also adds eps = 1e-6 in
  ``pairwise_distance``). On other inputs we deliberately differ: we measure the angle on
  the normalised embeddings (what the required distance and AngularLoss use), PML on the
  raw ones; we then equal PML fed the normalised embeddings.
- DistanceWeightedMiner: sampling cannot match draw for draw (PML uses torch's global RNG
  and ``torch.multinomial``; we use an explicit numpy Generator and an inverse-CDF draw),
  so we compare (1) the weight matrices, captured from PML's call into
  ``get_random_triplet_indices``, exactly up to rounding, (2) the distribution of mined
  d_an (PML's own test: uniform mean/variance, plus a two-sample KS test against PML's
  samples) and (3) the documented fix: rows that PML's global stabilisation underflows.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pml_miners = pytest.importorskip("pytorch_metric_learning.miners")
pml_distances = pytest.importorskip("pytorch_metric_learning.distances")
from pytorch_metric_learning.utils import loss_and_miner_utils as pml_lmu  # noqa: E402

from agnostic_ml.distances import CosineSimilarity, DotProductSimilarity, LpDistance  # noqa: E402
from agnostic_ml.miners import (  # noqa: E402
    AngularMiner,
    DistanceWeightedMiner,
    EmbeddingsAlreadyPackagedAsTriplets,
    TripletMarginMiner,
)
from helpers import rows_set, triplet_cube, unit  # noqa: E402
from pml_helpers import DTYPES, run_ours, run_pml  # noqa: E402

TYPES = ["all", "hard", "semihard", "easy"]


def margins64(emb, ref, lab, rlab, self_ref, cosine):
    """float64 m = d_an - d_ap (s_ap - s_an for cosine) of every triplet."""
    e, r = unit(emb), unit(ref)
    a, p, n = triplet_cube(lab, rlab, self_ref)
    if cosine:
        m = np.sum(e[a] * r[p], 1) - np.sum(e[a] * r[n], 1)
    else:
        m = np.linalg.norm(e[a] - r[n], axis=1) - np.linalg.norm(e[a] - r[p], axis=1)
    return a, p, n, m


def assert_sets_agree(ours, theirs, a, p, n, near_threshold):
    """Equal sets, except triplets whose reference value is within rounding of a threshold."""
    borderline = set(zip(a[near_threshold].tolist(), p[near_threshold].tolist(), n[near_threshold].tolist()))
    diff = ours ^ theirs
    assert diff <= borderline, f"{len(diff - borderline)} triplets differ, e.g. {sorted(diff - borderline)[:5]}"


# -- TripletMarginMiner ------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("cosine", [False, True])
@pytest.mark.parametrize("with_ref", [False, True])
def test_triplet_margin_random_vs_pml(dtype, cosine, with_ref):
    np_dt, t_dt = DTYPES[dtype]
    tol = 2e-5 if dtype == "float32" else 1e-12
    for seed in range(4):
        rng = np.random.default_rng(seed)
        n = int(rng.integers(2, 32))
        d = int(rng.integers(1, 8))
        emb = rng.normal(size=(n, d))
        lab = rng.integers(0, int(rng.integers(1, 6)), n)
        ref = rlab = None
        if with_ref:
            m = int(rng.integers(1, 30))
            ref, rlab = rng.normal(size=(m, d)), rng.integers(0, 5, m)
        a, p, nn, m64 = margins64(emb, emb if ref is None else ref, lab, lab if rlab is None else rlab, ref is None, cosine)
        for margin in (0.0, 0.2, -0.1) if seed % 2 else (0.05, 1.0):
            for kind in TYPES:
                theirs = run_pml(
                    pml_miners.TripletMarginMiner(margin, kind, distance=pml_distances.CosineSimilarity() if cosine else pml_distances.LpDistance()),
                    emb, lab, ref, rlab, t_dt,
                )
                ours_out = run_ours(
                    TripletMarginMiner(margin, kind, distance=CosineSimilarity() if cosine else LpDistance()),
                    emb, lab, ref, rlab, np_dt,
                )
                ours = rows_set(ours_out)
                assert len(ours) == ours_out[0].shape[0]  # no duplicates
                near = (np.abs(m64 - margin) <= tol) | (np.abs(m64) <= tol)
                assert_sets_agree(ours, rows_set(theirs), a, p, nn, near)


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("with_ref", [False, True])
def test_triplet_margin_exact_ties_vs_pml(dtype, with_ref):
    """Integer embeddings, unnormalised: distances are exact in both, so ties (m == 0 and
    m == margin) must be resolved identically: no tolerance."""
    np_dt, t_dt = DTYPES[dtype]
    for seed in range(8):
        rng = np.random.default_rng(100 + seed)
        n, d = int(rng.integers(3, 30)), int(rng.integers(1, 3))
        emb = rng.integers(-3, 4, size=(n, d)).astype(np.float64)
        lab = rng.integers(0, 3, n)
        ref = rlab = None
        if with_ref:
            m = int(rng.integers(2, 20))
            ref, rlab = rng.integers(-3, 4, size=(m, d)).astype(np.float64), rng.integers(0, 3, m)
        for margin in (0.0, 1.0, 2.0, -1.0):
            for kind in TYPES:
                theirs = run_pml(
                    pml_miners.TripletMarginMiner(margin, kind, distance=pml_distances.LpDistance(normalize_embeddings=False)),
                    emb, lab, ref, rlab, t_dt,
                )
                ours = run_ours(
                    TripletMarginMiner(margin, kind, distance=LpDistance(normalize_embeddings=False)),
                    emb, lab, ref, rlab, np_dt,
                )
                assert rows_set(ours) == rows_set(theirs), (seed, margin, kind)
                assert ours[0].shape[0] == theirs[0].shape[0]


@pytest.mark.parametrize("dtype", list(DTYPES))
def test_triplet_margin_similarity_ties_vs_pml(dtype):
    """Similarities with exact ties: integer dot products, and cosine with duplicated rows."""
    np_dt, t_dt = DTYPES[dtype]
    for seed in range(6):
        rng = np.random.default_rng(200 + seed)
        n = int(rng.integers(3, 30))
        pool = rng.integers(-2, 3, size=(5, 3)).astype(np.float64)
        pool[np.all(pool == 0, axis=1)] = 1.0
        emb = pool[rng.integers(0, 5, n)]  # many duplicated rows: s_ap == s_an exactly
        lab = rng.integers(0, 3, n)
        for margin in (0.0, 1.0, 3.0):
            for kind in TYPES:
                for ours_d, pml_d in (
                    (DotProductSimilarity(normalize_embeddings=False), pml_distances.DotProductSimilarity(normalize_embeddings=False)),
                    (CosineSimilarity(), pml_distances.CosineSimilarity()),
                ):
                    theirs = run_pml(pml_miners.TripletMarginMiner(margin, kind, distance=pml_d), emb, lab, dtype=t_dt)
                    ours = run_ours(TripletMarginMiner(margin, kind, distance=ours_d), emb, lab, dtype=np_dt)
                    if isinstance(ours_d, CosineSimilarity):
                        # cosine values of different rows can differ by rounding: compare away from thresholds
                        a, p, nn, m64 = margins64(emb, emb, lab, lab, True, True)
                        near = (np.abs(m64 - margin) <= 1e-5) | (np.abs(m64) <= 1e-5)
                        exact = a[np.abs(m64) == 0], p[np.abs(m64) == 0], nn[np.abs(m64) == 0]
                        tied = set(zip(*(x.tolist() for x in exact)))
                        # exact ties (duplicated p and n) must agree exactly
                        assert rows_set(ours) & tied == rows_set(theirs) & tied
                        assert_sets_agree(rows_set(ours), rows_set(theirs), a, p, nn, near & (m64 != 0))
                    else:
                        assert rows_set(ours) == rows_set(theirs), (seed, margin, kind)


def test_unknown_type_differs_from_pml():
    """PML silently treats an unknown type as "all"; we raise (documented fix)."""
    emb, lab = np.random.default_rng(0).normal(size=(8, 3)), np.array([0, 0, 1, 1, 2, 2, 3, 3])
    pml_out = run_pml(pml_miners.TripletMarginMiner(0.2, "semi-hard"), emb, lab)
    assert rows_set(pml_out) == rows_set(run_pml(pml_miners.TripletMarginMiner(0.2, "all"), emb, lab))
    with pytest.raises(ValueError, match="type_of_triplets"):
        TripletMarginMiner(0.2, "semi-hard")


def test_triplet_margin_stats_vs_pml():
    rng = np.random.default_rng(3)
    emb, lab = rng.normal(size=(20, 4)), rng.integers(0, 4, 20)
    theirs = pml_miners.TripletMarginMiner(0.1, "semihard", collect_stats=True)
    run_pml(theirs, emb, lab)
    ours = TripletMarginMiner(0.1, "semihard", collect_stats=True)
    ours(emb, lab)
    for name in ("pos_pair_dist", "neg_pair_dist", "avg_triplet_margin"):
        assert float(ours.stats[name]) == pytest.approx(getattr(theirs, name), rel=1e-9, abs=1e-12)
    assert ours.num_triplets == theirs.num_triplets


# -- AngularMiner ------------------------------------------------------------------------------------


def angles64(emb, ref, lab, rlab, self_ref):
    e, r = unit(emb), unit(ref)
    a, p, n = triplet_cube(lab, rlab, self_ref)
    ap = np.linalg.norm(e[a] - r[p], axis=1)
    nc = np.linalg.norm(r[n] - (e[a] + r[p]) / 2, axis=1)
    return a, p, n, np.arctan(ap / (2 * nc))


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("with_ref", [False, True])
def test_angular_unit_norm_vs_pml(dtype, with_ref):
    np_dt, t_dt = DTYPES[dtype]
    tol = 1e-4 if dtype == "float32" else 1e-5  # PML's eps = 1e-6 in pairwise_distance
    for seed in range(3):
        rng = np.random.default_rng(seed)
        n, d = int(rng.integers(4, 40)), int(rng.integers(2, 6))
        emb = unit(rng.normal(size=(n, d)))
        lab = rng.integers(0, 3, n)
        ref, rlab = (unit(rng.normal(size=(20, d))), rng.integers(0, 3, 20)) if with_ref else (None, None)
        a, p, nn, ang = angles64(emb, emb if ref is None else ref, lab, lab if rlab is None else rlab, ref is None)
        for angle in (0, 15, 20, 35, 60):
            theirs = run_pml(pml_miners.AngularMiner(angle), emb, lab, ref, rlab, t_dt)
            ours = run_ours(AngularMiner(angle), emb, lab, ref, rlab, np_dt)
            assert_sets_agree(rows_set(ours), rows_set(theirs), a, p, nn, np.abs(ang - math.radians(angle)) <= tol)
            if not with_ref:
                # same order as PML (lexicographic): compare the sequences where no triplet is borderline
                if not np.any(np.abs(ang - math.radians(angle)) <= tol):
                    for x, y in zip(ours, theirs):
                        np.testing.assert_array_equal(x, y.numpy())


def test_angular_uses_normalised_embeddings_unlike_pml():
    """Deliberate difference: PML's miner measures the angle on raw embeddings."""
    rng = np.random.default_rng(11)
    emb = unit(rng.normal(size=(30, 3))) * rng.uniform(0.2, 5.0, size=(30, 1))
    lab = rng.integers(0, 3, 30)
    a, p, nn, ang = angles64(emb, emb, lab, lab, True)
    ours = rows_set(AngularMiner(30)(emb, lab))
    on_normalised = rows_set(run_pml(pml_miners.AngularMiner(30), unit(emb), lab))
    on_raw = rows_set(run_pml(pml_miners.AngularMiner(30), emb, lab))
    assert_sets_agree(ours, on_normalised, a, p, nn, np.abs(ang - math.radians(30)) <= 1e-5)
    assert ours != on_raw  # PML's selection depends on the norms


def test_angular_angle_zero_duplicates_differ_from_pml():
    """PML's pairwise_distance adds eps=1e-6, so an anchor identical to its positive still
    has a (tiny) angle > 0; we give it none (documented)."""
    emb = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    lab = np.array([0, 0, 1])
    assert rows_set(run_pml(pml_miners.AngularMiner(0), emb, lab)) == {(0, 1, 2), (1, 0, 2)}
    assert rows_set(AngularMiner(0)(emb, lab)) == set()


# -- DistanceWeightedMiner ---------------------------------------------------------------------------


def capture_pml_weights(monkeypatch, miner, emb, lab, ref=None, rlab=None, dtype=torch.float32):
    seen = {}
    original = pml_lmu.get_random_triplet_indices

    def spy(labels, ref_labels=None, t_per_anchor=None, weights=None):
        seen["w"] = weights.detach().double().numpy().copy()
        return original(labels, ref_labels=ref_labels, t_per_anchor=t_per_anchor, weights=weights)

    monkeypatch.setattr(pml_lmu, "get_random_triplet_indices", spy)
    run_pml(miner, emb, lab, ref, rlab, dtype)
    monkeypatch.undo()
    return seen["w"]


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("with_ref", [False, True])
def test_distance_weighted_weights_vs_pml(monkeypatch, dtype, with_ref):
    np_dt, t_dt = DTYPES[dtype]
    rng = np.random.default_rng(9)
    for dim in (2, 8, 32):
        n = 40
        emb, lab = rng.normal(size=(n, dim)), rng.integers(0, 4, n)
        ref, rlab = (rng.normal(size=(25, dim)), rng.integers(0, 4, 25)) if with_ref else (None, None)
        pml_w = capture_pml_weights(
            monkeypatch, pml_miners.DistanceWeightedMiner(0.5, 1.4), emb, lab, ref, rlab, t_dt
        )
        ours = DistanceWeightedMiner(0.5, 1.4)
        w = ours.weights(emb.astype(np_dt), lab, None if ref is None else ref.astype(np_dt), rlab).astype(np.float64)
        ws = w.sum(1, keepdims=True)
        ours_norm = w / np.where(ws > 0, ws, 1)
        rows = np.isfinite(pml_w).all(1)  # PML normalises by the row sum: 0/0 = NaN for empty rows
        assert rows.sum() > n // 2
        np.testing.assert_allclose(ours_norm[rows], pml_w[rows], rtol=1e-3 if dtype == "float32" else 1e-9, atol=1e-7)
        # rows PML cannot sample from are exactly the rows without an eligible negative here
        assert np.array_equal(~rows, ws[:, 0] == 0)


@pytest.mark.parametrize("with_ref", [False, True])
def test_distance_weighted_statistics_like_pml_test(with_ref):
    """PML's own test (2-D points on a circle, cutoff 0): the mined d_an are ~uniform on
    [min d_an, nonzero_loss_cutoff]; and their distribution matches PML's samples."""
    from scipy.stats import ks_2samp

    angles = np.radians(np.arange(256) * 360.0 / 256)
    emb = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    g = np.random.default_rng(0)
    lab = g.integers(0, 2, 256)
    ref, rlab = (emb.copy(), g.integers(0, 2, 256)) if with_ref else (None, None)
    r = emb if ref is None else ref
    rl = lab if rlab is None else rlab
    pos = lab[:, None] == rl[None, :]
    if ref is None:
        np.fill_diagonal(pos, False)
    has_pos = pos.any(1)  # min d_an over all triplets = over anchors that have a positive
    dist = np.linalg.norm(emb[:, None] - r[None], axis=2)
    min_an = dist[has_pos][~pos[has_pos] & (lab[has_pos][:, None] != rl[None, :])].min()
    torch.manual_seed(0)
    for cutoff_int in (5, 9, 14):
        cutoff = cutoff_int / 10 - 0.01
        a, p, n = run_ours(DistanceWeightedMiner(0, cutoff, rng=cutoff_int), emb, lab, ref, rlab)
        an = np.linalg.norm(emb[a] - r[n], axis=1)
        assert an.max() <= cutoff
        target_var, target_mean = (cutoff - min_an) ** 2 / 12, (cutoff - min_an) / 2
        assert abs(an.var(ddof=1) - target_var) / target_var < 0.1
        assert abs(an.mean() - target_mean) / target_mean < 0.1
        if cutoff_int == 9:  # PML's miner takes ~1.5 s here (a loop over classes): once is enough
            pa, _, pn = run_pml(pml_miners.DistanceWeightedMiner(0, cutoff), emb, lab, ref, rlab, torch.float32)
            pml_an = np.linalg.norm(emb[pa.numpy()] - r[pn.numpy()], axis=1)
            assert len(a) == len(pa)
            assert ks_2samp(an, pml_an).pvalue > 1e-3


def test_distance_weighted_fix_for_underflowing_rows():
    """PML subtracts one global maximum of the log-weights (at least 0, because same-class
    entries are zeroed, not masked): with D = 256 in float32, anchors whose negatives are
    all far get all-zero weights and no triplets. We stabilise per row."""
    dim = 256

    def point(i, j, dist):  # unit vector in the (e_i, e_j) plane at `dist` from e_i
        th = 2 * np.arcsin(dist / 2)
        v = np.zeros(dim)
        v[i], v[j] = np.cos(th), np.sin(th)
        return v

    e0, e1 = point(0, 1, 0.0), point(0, 1, 0.5)
    f0, f1 = point(2, 3, 0.0), point(2, 3, 1.3)
    emb = np.stack([e0, e0, e1, e1, f0, f0, f1, f1])
    lab = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    torch.manual_seed(0)
    pml_a = run_pml(pml_miners.DistanceWeightedMiner(), emb, lab, dtype=torch.float32)[0]
    assert set(pml_a.tolist()) == {0, 1, 2, 3}  # anchors 4..7 silently dropped
    a, p, n = DistanceWeightedMiner(rng=0)(emb.astype(np.float32), lab)
    assert set(a.tolist()) == set(range(8))
    assert np.all(lab[n[a >= 4]] == np.where(lab[a[a >= 4]] == 2, 3, 2))  # their only eligible negatives


# -- EmbeddingsAlreadyPackagedAsTriplets -------------------------------------------------------------


def test_packaged_vs_pml():
    emb = np.random.default_rng(0).normal(size=(12, 3))
    theirs = run_pml(pml_miners.EmbeddingsAlreadyPackagedAsTriplets(), emb, np.zeros(12, dtype=np.int64))
    ours = EmbeddingsAlreadyPackagedAsTriplets()(emb, np.zeros(12, dtype=np.int64))
    for x, y in zip(ours, theirs):
        np.testing.assert_array_equal(x, y.numpy())
    with pytest.raises(AssertionError):  # PML: a bare assertion; we raise ValueError
        run_pml(pml_miners.EmbeddingsAlreadyPackagedAsTriplets(), emb[:10], np.zeros(10, dtype=np.int64))
