"""Differential tests: our pair-type and batch-hard miners against PML 2.9.0 on the same inputs.

How the comparison is made fair
-------------------------------
Most tests give PML *our* matrix (``pml_helpers.SharedMatrix``), which isolates the mining
semantics (distances have their own differential tests); ``test_end_to_end_with_pml_distances``
then runs PML's own ``LpDistance``/``CosineSimilarity`` in float64, where rounding differences
are ~1e-16. The catalogue's entries are also compared in ``test_miners_vs_pml.py``; the
configurations below are the ones that need more than that generic comparison (many
margins, strategies and ranges, the documented deviations).

Where we deliberately differ from PML, the test says why:

- outputs are compared as *sets* of tuples: PML's MultiSimilarityMiner and HDCMiner order
  pairs by value, ours are row-major;
- HDCMiner: PML's ``topk`` keeps an arbitrary subset of the pairs tied at the k-th value
  (common: distance matrices are symmetric); we keep the first in row-major order. The test
  requires the same number of pairs and that the two sets differ only by pairs whose value
  equals that boundary value;
- BatchEasyHardMiner: PML ignores ``allowed_*_range`` on a side whose strategy is "all"
  (its documentation says a range is applied unless it is None); we apply it;
- UniformHistogramMiner samples at random (PML from torch's global generator, ours from an
  explicit ``rng``), so tuples cannot match; we compare the per-bin counts (``per_bin`` draws
  from every non-empty bin, each side under its own binning rule) and check that the draws
  are uniform within a bin.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pml_miners = pytest.importorskip("pytorch_metric_learning.miners")
pml_distances = pytest.importorskip("pytorch_metric_learning.distances")

from agnostic_ml.distances import CosineSimilarity, LpDistance  # noqa: E402
from agnostic_ml.miners import (  # noqa: E402
    BatchEasyHardMiner,
    BatchHardMiner,
    HDCMiner,
    MultiSimilarityMiner,
    PairMarginMiner,
    UniformHistogramMiner,
)
from pml_helpers import DISTANCES, assert_same, make_batch, run_both, shared  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SEEDS = range(6)


# -- PairMarginMiner ---------------------------------------------------------------------------

PAIR_MARGIN_CASES = [("lp", 0.2, 0.8), ("lp", 1.2, 1.3), ("cos", 0.2, 0.1), ("cos", 0.8, -0.2), ("dot_raw", 1.0, 0.5)]


@pytest.mark.parametrize("with_ref", [False, True])
@pytest.mark.parametrize("dist, pos_margin, neg_margin", PAIR_MARGIN_CASES)
def test_pair_margin(combo, with_ref, dist, pos_margin, neg_margin):
    ours_backend, dtype_name = combo
    for seed in SEEDS:
        d = DISTANCES[dist]()
        ours_m = PairMarginMiner(pos_margin, neg_margin, distance=d, collect_stats=True)
        pml_m = pml_miners.PairMarginMiner(
            pos_margin, neg_margin, distance=shared(d, ours_backend, dtype_name), collect_stats=True
        )
        ours, theirs = run_both(ours_m, pml_m, ours_backend, dtype_name, *make_batch(seed, with_ref=with_ref))
        assert_same(ours, theirs, f"PairMargin {dist} seed {seed}")
        for stat in ("pos_pair_dist", "neg_pair_dist"):
            assert float(ours_backend.to_numpy(ours_m.stats[stat])) == pytest.approx(
                float(getattr(pml_m, stat)), rel=1e-5, abs=1e-6
            )


# -- MultiSimilarityMiner ----------------------------------------------------------------------


@pytest.mark.parametrize("with_ref", [False, True])
@pytest.mark.parametrize("dist, epsilon", [("cos", 0.1), ("cos", 0.5), ("lp", 0.1), ("lp", 0.0), ("dot_raw", 1.0)])
def test_multi_similarity(combo, with_ref, dist, epsilon):
    ours_backend, dtype_name = combo
    for seed in SEEDS:
        d = DISTANCES[dist]()
        ours_m = MultiSimilarityMiner(epsilon, distance=d)
        pml_m = pml_miners.MultiSimilarityMiner(epsilon, distance=shared(d, ours_backend, dtype_name))
        ours, theirs = run_both(ours_m, pml_m, ours_backend, dtype_name, *make_batch(seed, with_ref=with_ref))
        assert_same(ours, theirs, f"MultiSimilarity {dist} eps {epsilon} seed {seed}")


# -- HDCMiner ----------------------------------------------------------------------------------


def assert_same_up_to_boundary_ties(ours, theirs, mat, largest_per_side, what, tol=0.0):
    """Equal sizes; the sets differ only by pairs tied (within ``tol``) at the k-th (boundary) value."""
    for part, largest in enumerate(largest_per_side):
        o = set(zip(ours[2 * part], ours[2 * part + 1]))
        t = set(zip(theirs[2 * part], theirs[2 * part + 1]))
        assert len(o) == len(t) == len(ours[2 * part]) == len(theirs[2 * part]), f"{what}: sizes differ"
        if o == t:
            continue
        worst = min if largest else max
        b_o = worst(mat[a, x] for a, x in o)
        b_t = worst(mat[a, x] for a, x in t)
        assert abs(b_o - b_t) <= tol, f"{what}: boundary values differ ({b_o} vs {b_t})"
        diff = o ^ t
        assert all(abs(mat[a, x] - b_o) <= tol for a, x in diff), (
            f"{what}: sets differ beyond the tied boundary: {sorted(diff)[:6]}"
        )


@pytest.mark.parametrize("with_ref", [False, True])
@pytest.mark.parametrize("dist, pct", [("lp", 0.5), ("lp", 0.3), ("cos", 0.5), ("cos", 0.77), ("lp", 1.0)])
def test_hdc(combo, with_ref, dist, pct):
    ours_backend, dtype_name = combo
    for seed in SEEDS:
        d = DISTANCES[dist]()
        shared_d = shared(d, ours_backend, dtype_name)
        batch = make_batch(seed, with_ref=with_ref)
        ours, theirs = run_both(HDCMiner(pct, distance=d), pml_miners.HDCMiner(pct, distance=shared_d), ours_backend, dtype_name, *batch)
        x, _, r, _ = batch
        tdt = getattr(torch, dtype_name)
        mat = shared_d(torch.from_numpy(x).to(tdt), None if r is None else torch.from_numpy(r).to(tdt)).numpy()
        pos_largest = not d.is_inverted
        assert_same_up_to_boundary_ties(ours, theirs, mat, (pos_largest, not pos_largest), f"HDC {dist} {pct} seed {seed}")


def test_hdc_external_indices(combo):
    ours_backend, dtype_name = combo
    for seed in SEEDS:
        x, lab, _, _ = make_batch(seed, with_ref=False)
        rng = np.random.default_rng(100 + seed)
        # random triplets (valid or not: HDC does not look at labels of external pairs)
        t = int(rng.integers(0, 30))
        trip = [rng.integers(0, len(lab), size=t) for _ in range(3)]
        d = LpDistance()
        ours_m = HDCMiner(0.5, distance=d)
        pml_m = pml_miners.HDCMiner(0.5, distance=shared(d, ours_backend, dtype_name))
        ours_m.set_idx_externally(tuple(ours_backend.asarray(v, ours_backend.xp.int64) for v in trip), lab)
        pml_m.set_idx_externally(tuple(torch.from_numpy(v) for v in trip), torch.from_numpy(lab))
        ours, theirs = run_both(ours_m, pml_m, ours_backend, dtype_name, x, lab, None, None)
        # external pairs may repeat: compare multisets, boundary ties aside
        mat = shared(d, ours_backend, dtype_name)(torch.from_numpy(x).to(getattr(torch, dtype_name))).numpy()
        for part, largest in ((0, True), (1, False)):
            o = Counter(zip(ours[2 * part], ours[2 * part + 1]))
            th = Counter(zip(theirs[2 * part], theirs[2 * part + 1]))
            assert sum(o.values()) == sum(th.values())
            if o != th:
                worst = min if largest else max
                b = worst(mat[a, y] for a, y in o.elements())
                assert b == worst(mat[a, y] for a, y in th.elements())
                assert all(mat[a, y] == b for a, y in ((o - th) + (th - o)).elements())


# -- BatchEasyHardMiner / BatchHardMiner ------------------------------------------------------

STRATEGIES = ["hard", "semihard", "easy", "all"]
VALID = [
    (p, n)
    for p in STRATEGIES
    for n in STRATEGIES
    if not (p == n == "semihard") and not ({p, n} == {"semihard", "all"})
]


@pytest.mark.parametrize("with_ref", [False, True])
@pytest.mark.parametrize("dist", ["lp", "cos"])
@pytest.mark.parametrize("pos_strategy, neg_strategy", VALID)
def test_batch_easy_hard(combo, with_ref, dist, pos_strategy, neg_strategy):
    ours_backend, dtype_name = combo
    for seed in SEEDS[:4]:
        d = DISTANCES[dist]()
        ours_m = BatchEasyHardMiner(pos_strategy, neg_strategy, distance=d, collect_stats=True)
        pml_m = pml_miners.BatchEasyHardMiner(
            pos_strategy, neg_strategy, distance=shared(d, ours_backend, dtype_name), collect_stats=True
        )
        ours, theirs = run_both(ours_m, pml_m, ours_backend, dtype_name, *make_batch(seed, with_ref=with_ref))
        assert_same(ours, theirs, f"BatchEasyHard {pos_strategy}/{neg_strategy} {dist} seed {seed}")
        if sum(len(o) for o in ours) == 0:
            continue
        for stat in ("easiest_pos_pair", "hardest_pos_pair", "easiest_neg_pair", "hardest_neg_pair", "easiest_triplet", "hardest_triplet"):
            assert float(ours_backend.to_numpy(ours_m.stats[stat])) == pytest.approx(float(getattr(pml_m, stat)), abs=1e-6), stat


RANGES = {"lp": [(0.3, 1.2), (1.0, 1.6)], "cos": [(-0.5, 0.4), (0.0, 1.0)]}


@pytest.mark.parametrize("dist", ["lp", "cos"])
@pytest.mark.parametrize("pos_strategy, neg_strategy", [v for v in VALID if "all" not in v])
def test_batch_easy_hard_ranges(combo, dist, pos_strategy, neg_strategy):
    ours_backend, dtype_name = combo
    pos_range, neg_range = RANGES[dist]
    for seed in SEEDS[:4]:
        d = DISTANCES[dist]()
        ours_m = BatchEasyHardMiner(pos_strategy, neg_strategy, pos_range, neg_range, distance=d)
        pml_m = pml_miners.BatchEasyHardMiner(
            pos_strategy, neg_strategy, pos_range, neg_range, distance=shared(d, ours_backend, dtype_name)
        )
        ours, theirs = run_both(ours_m, pml_m, ours_backend, dtype_name, *make_batch(seed, with_ref=seed % 2 == 1))
        assert_same(ours, theirs, f"BatchEasyHard ranges {pos_strategy}/{neg_strategy} {dist} seed {seed}")


@pytest.mark.parametrize("dist", ["lp", "cos"])
def test_batch_easy_hard_range_on_all_side(ours_backend, dist):
    """Deviation: our range also filters an "all" side; PML's output filtered by the range is ours."""
    pos_range, neg_range = RANGES[dist]
    for seed in SEEDS[:5]:
        d = DISTANCES[dist]()
        sd = shared(d, ours_backend, "float64")
        batch = make_batch(seed, with_ref=False)
        mat = sd(torch.from_numpy(batch[0])).numpy()
        for ps, ns in [("all", "hard"), ("easy", "all"), ("all", "all")]:
            ours, theirs = run_both(
                BatchEasyHardMiner(ps, ns, pos_range, neg_range, distance=d),
                pml_miners.BatchEasyHardMiner(ps, ns, pos_range, neg_range, distance=sd),
                ours_backend, "float64", *batch,
            )
            expected = [list(v) for v in theirs]
            for side, (lo, hi), strategy in ((0, pos_range, ps), (1, neg_range, ns)):
                if strategy != "all":
                    continue
                keep = [lo <= mat[a, x] <= hi for a, x in zip(theirs[2 * side], theirs[2 * side + 1])]
                expected[2 * side] = [v for v, k in zip(theirs[2 * side], keep) if k]
                expected[2 * side + 1] = [v for v, k in zip(theirs[2 * side + 1], keep) if k]
            assert_same(ours, expected, f"BatchEasyHard {ps}/{ns} range on 'all' seed {seed}")


@pytest.mark.parametrize("with_ref", [False, True])
@pytest.mark.parametrize("dist", ["lp", "cos", "dot_raw"])
def test_batch_hard(combo, with_ref, dist):
    ours_backend, dtype_name = combo
    for seed in SEEDS:
        d = DISTANCES[dist]()
        ours, theirs = run_both(
            BatchHardMiner(distance=d),
            pml_miners.BatchHardMiner(distance=shared(d, ours_backend, dtype_name)),
            ours_backend, dtype_name, *make_batch(seed, with_ref=with_ref),
        )
        assert len(ours) == 3
        assert_same(ours, theirs, f"BatchHard {dist} seed {seed}")
        assert ours[0] == theirs[0]  # one triplet per kept anchor, in anchor order


# -- end to end: PML's own distances (float64) -------------------------------------------------

END_TO_END = [
    (lambda d: PairMarginMiner(1.2, 1.3, distance=d), lambda d: pml_miners.PairMarginMiner(1.2, 1.3, distance=d)),
    (lambda d: MultiSimilarityMiner(0.1, distance=d), lambda d: pml_miners.MultiSimilarityMiner(0.1, distance=d)),
    (lambda d: BatchHardMiner(distance=d), lambda d: pml_miners.BatchHardMiner(distance=d)),
    (lambda d: BatchEasyHardMiner(distance=d), lambda d: pml_miners.BatchEasyHardMiner(distance=d)),
    (lambda d: BatchEasyHardMiner("semihard", "easy", distance=d), lambda d: pml_miners.BatchEasyHardMiner("semihard", "easy", distance=d)),
]


@pytest.mark.parametrize("case", range(len(END_TO_END)))
@pytest.mark.parametrize("dist", ["lp", "cos"])
@pytest.mark.parametrize("with_ref", [False, True])
def test_end_to_end_with_pml_distances(ours_backend, case, dist, with_ref):
    make_ours, make_pml = END_TO_END[case]
    ours_d = LpDistance() if dist == "lp" else CosineSimilarity()
    pml_d = pml_distances.LpDistance() if dist == "lp" else pml_distances.CosineSimilarity()
    for seed in SEEDS[:4]:
        ours, theirs = run_both(make_ours(ours_d), make_pml(pml_d), ours_backend, "float64", *make_batch(seed, with_ref=with_ref))
        assert_same(ours, theirs, f"end-to-end {dist} case {case} seed {seed}")


@pytest.mark.parametrize("dist", ["lp", "cos"])
@pytest.mark.parametrize("with_ref", [False, True])
def test_hdc_end_to_end_with_pml_distances(ours_backend, dist, with_ref):
    ours_d = LpDistance() if dist == "lp" else CosineSimilarity()
    pml_d = pml_distances.LpDistance() if dist == "lp" else pml_distances.CosineSimilarity()
    for seed in SEEDS[:4]:
        batch = make_batch(seed, with_ref=with_ref)
        ours, theirs = run_both(HDCMiner(0.4, distance=ours_d), pml_miners.HDCMiner(0.4, distance=pml_d), ours_backend, "float64", *batch)
        x, _, r, _ = batch
        mat = pml_d(torch.from_numpy(x), None if r is None else torch.from_numpy(r)).numpy()
        inv = dist == "cos"
        # the two libraries' float64 matrices differ by rounding (~1e-16): ties are "within 1e-12"
        assert_same_up_to_boundary_ties(ours, theirs, mat, (not inv, inv), f"HDC e2e seed {seed}", tol=1e-12)


# -- UniformHistogramMiner: distributional comparison -------------------------------------------


def pml_bin(values, lo, hi, nb, tdtype):
    """PML's rule: ``torch.linspace(lo, hi, nb + 1)`` edges, half-open bins, the last one closed."""
    v = torch.as_tensor(np.asarray(values, dtype=np.float64), dtype=tdtype)
    edges = torch.linspace(float(lo), float(hi), steps=nb + 1, dtype=tdtype)
    return torch.clamp(torch.bucketize(v, edges, right=True) - 1, 0, nb - 1).tolist()


def our_bin(values, lo, hi, nb, np_dtype):
    """Ours: ``min(floor((v - lo) * (nb / (hi - lo))), nb - 1)`` in the matrix dtype, 0 when hi == lo."""
    v = np.asarray(values, dtype=np_dtype)
    lo, hi = np_dtype(lo), np_dtype(hi)
    if hi == lo:
        return [0] * v.size
    scale = np_dtype(nb) / (hi - lo)
    return np.clip(np.floor((v - lo) * scale), 0, nb - 1).astype(int).tolist()


@pytest.mark.parametrize("with_ref", [False, True])
@pytest.mark.parametrize("dist, nb, per_pos, per_neg", [("lp", 10, 3, 4), ("cos", 7, 2, 5), ("lp", 1, 5, 5)])
def test_uniform_histogram_per_bin_counts(combo, with_ref, dist, nb, per_pos, per_neg):
    ours_backend, dtype_name = combo
    np_dtype = np.dtype(dtype_name).type
    tdt = getattr(torch, dtype_name)
    for seed in SEEDS[:4]:
        d = DISTANCES[dist]()
        sd = shared(d, ours_backend, dtype_name)
        batch = make_batch(seed, with_ref=with_ref, classes=(2, 5))
        x, lab, r, rlab = batch
        torch.manual_seed(seed)
        ours, theirs = run_both(
            UniformHistogramMiner(nb, per_pos, per_neg, rng=seed, distance=d),
            pml_miners.UniformHistogramMiner(nb, per_pos, per_neg, distance=sd),
            ours_backend, dtype_name, *batch,
        )
        mat = sd(torch.from_numpy(x).to(tdt), None if r is None else torch.from_numpy(r).to(tdt)).numpy()
        rl = lab if r is None else rlab
        same = lab[:, None] == rl[None, :]
        if r is None:
            np.fill_diagonal(same, False)
        for side, (mask, per) in enumerate(((same, per_pos), (~(lab[:, None] == rl[None, :]), per_neg))):
            a_o, o_o = ours[2 * side], ours[2 * side + 1]
            a_t, o_t = theirs[2 * side], theirs[2 * side + 1]
            population = mat[mask]
            if population.size == 0:
                assert len(a_o) == len(a_t) == 0
                continue
            lo, hi = population.min(), population.max()
            # every draw is a pair of the right kind (ours)
            assert all(mask[a, y] for a, y in zip(a_o, o_o))
            # non-empty bins of the population, each library under its own rule
            nonempty = sorted(set(our_bin(population, lo, hi, nb, np_dtype)))
            assert nonempty == sorted(set(pml_bin(population, lo, hi, nb, tdt)))
            expected = {b: per for b in nonempty}
            # per_bin draws from every non-empty bin, in both
            assert dict(Counter(our_bin([mat[a, y] for a, y in zip(a_o, o_o)], lo, hi, nb, np_dtype))) == expected
            assert dict(Counter(pml_bin([mat[a, y] for a, y in zip(a_t, o_t)], lo, hi, nb, tdt))) == expected


def test_uniform_histogram_uniform_within_a_bin(ours_backend):
    """Many draws from one bin: every member is drawn about equally often, as with PML's multinomial."""
    x = np.array([[0.0], [1.0], [2.0], [3.0], [4.0], [10.0]])
    lab = np.array([0, 0, 0, 0, 0, 1])
    d = LpDistance(p=1, normalize_embeddings=False)
    draws = 6000
    ours, theirs = run_both(
        UniformHistogramMiner(num_bins=1, pos_per_bin=draws, neg_per_bin=draws, rng=0, distance=d),
        pml_miners.UniformHistogramMiner(num_bins=1, pos_per_bin=draws, neg_per_bin=draws, distance=shared(d, ours_backend, "float64")),
        ours_backend, "float64", x, lab, None, None,
    )
    for out in (ours, theirs):
        for side, n_members in ((0, 20), (1, 10)):
            counts = Counter(zip(out[2 * side], out[2 * side + 1]))
            assert len(counts) == n_members
            expect = draws / n_members
            sd = math.sqrt(draws * (1 / n_members) * (1 - 1 / n_members))
            assert all(abs(c - expect) < 5 * sd for c in counts.values()), counts
