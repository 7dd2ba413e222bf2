"""Hypothesis properties of the pair-type and batch-hard miners.

Batches come from the public kit (``agnostic_ml.testing.strategies.miner_batches``): grid
embeddings with exact ties and duplicated rows, one-class / all-unique / random labels,
N = 0 and 1, optional reference sets with copied rows. Every output is checked with
``check_miner_output`` (indices in range, no self pairs without a reference set, label
relations, no duplicates except UniformHistogramMiner, which samples with replacement),
then against the miner's own rule, recomputed in NumPy from ``miner.distance``'s matrix:
the *whole* selected set is compared with a plain reference implementation (so nothing
is missing either), ties resolved to the lowest index as documented.

Cross-backend equality uses distances that are exact on grid data (raw dot products and
the L1 distance), so NumPy, torch and array-api-strict see bit-identical matrices.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
from array_api_compat import array_namespace
from hypothesis import given
from hypothesis import strategies as st

from agnostic_ml._array_api import to_numpy
from agnostic_ml.distances import CosineSimilarity, DotProductSimilarity, LpDistance
from agnostic_ml.miners import (
    BatchEasyHardMiner,
    BatchHardMiner,
    HDCMiner,
    MultiSimilarityMiner,
    PairMarginMiner,
    UniformHistogramMiner,
)
from agnostic_ml.testing import check_backend_consistency, check_deterministic, check_miner_output
from agnostic_ml.testing.strategies import miner_batches

BATCHES = miner_batches(max_n=20, max_classes=5)


pytestmark = pytest.mark.usefixtures("one_torch_thread")

DISTANCES = [
    LpDistance,
    CosineSimilarity,
    lambda: DotProductSimilarity(normalize_embeddings=False),
    lambda: LpDistance(p=1, normalize_embeddings=False),
]
distances = st.sampled_from(range(len(DISTANCES))).map(lambda i: DISTANCES[i]())
STRATEGIES = ["hard", "semihard", "easy", "all"]
VALID = [(p, n) for p in STRATEGIES for n in STRATEGIES if not (p == n == "semihard") and {p, n} != {"semihard", "all"}]


# -- host-side helpers -------------------------------------------------------------------------


def call(miner, batch):
    return miner(*batch.args()) if batch.has_ref else miner(batch.embeddings, batch.labels)


def host_matrix(miner, batch):
    return np.asarray(to_numpy(miner.distance(batch.embeddings, batch.ref_emb)), dtype=np.float64)


def host_masks(batch):
    lab = np.asarray(to_numpy(batch.labels))
    rlab = np.asarray(to_numpy(batch.ref_labels)) if batch.has_ref else lab
    same = lab[:, None] == rlab[None, :]
    pos = same.copy()
    if not batch.has_ref and pos.size:
        np.fill_diagonal(pos, False)
    return pos, ~same


def checked(miner, batch, allow_duplicates=False):
    out = call(miner, batch)
    return check_miner_output(
        out,
        batch.labels,
        batch.ref_labels,
        embeddings=batch.embeddings,
        ref_emb=batch.ref_emb,
        allow_duplicates=allow_duplicates,
    )


def pair_list(a, b):
    return list(zip(a.tolist(), b.tolist()))


def row_major(mask):
    r, c = np.nonzero(mask)
    return list(zip(r.tolist(), c.tolist()))


def mat_dtype(batch):
    return np.dtype(str(batch.embeddings.dtype).split(".")[-1]).type


# -- PairMarginMiner ---------------------------------------------------------------------------


@given(BATCHES, distances, st.floats(0, 2), st.floats(0, 2))
def test_pair_margin(batch, dist, pos_margin, neg_margin):
    miner = PairMarginMiner(pos_margin, neg_margin, distance=dist)
    a1, p, a2, n = checked(miner, batch)
    mat = host_matrix(miner, batch)
    pos, neg = host_masks(batch)
    if dist.is_inverted:
        keep_pos, keep_neg = pos & (mat < pos_margin), neg & (mat > neg_margin)
    else:
        keep_pos, keep_neg = pos & (mat > pos_margin), neg & (mat < neg_margin)
    assert pair_list(a1, p) == row_major(keep_pos)
    assert pair_list(a2, n) == row_major(keep_neg)


# -- MultiSimilarityMiner ----------------------------------------------------------------------


@given(BATCHES, distances, st.sampled_from([0.0, 0.1, 0.5, 1.0]))
def test_multi_similarity(batch, dist, epsilon):
    miner = MultiSimilarityMiner(epsilon, distance=dist)
    a1, p, a2, n = checked(miner, batch)
    mat = host_matrix(miner, batch)
    pos, neg = host_masks(batch)
    expected_pos, expected_neg = set(), set()
    eps = mat_dtype(batch)(epsilon)
    m = mat.astype(mat_dtype(batch))
    for i in range(mat.shape[0]):
        P, N = np.flatnonzero(pos[i]), np.flatnonzero(neg[i])
        if P.size == 0 or N.size == 0:
            continue
        if dist.is_inverted:
            hardest_neg, hardest_pos = m[i, N].max(), m[i, P].min()
            expected_pos |= {(i, j) for j in P if m[i, j] - eps < hardest_neg}
            expected_neg |= {(i, j) for j in N if m[i, j] + eps > hardest_pos}
        else:
            hardest_neg, hardest_pos = m[i, N].min(), m[i, P].max()
            expected_pos |= {(i, j) for j in P if m[i, j] + eps > hardest_neg}
            expected_neg |= {(i, j) for j in N if m[i, j] - eps < hardest_pos}
    assert pair_list(a1, p) == sorted(expected_pos)
    assert pair_list(a2, n) == sorted(expected_neg)


# -- BatchEasyHardMiner / BatchHardMiner -------------------------------------------------------


def pick(values, cand, largest):
    idx = np.flatnonzero(cand)
    if idx.size == 0:
        return None
    v = values[idx]
    best = v.max() if largest else v.min()
    return int(idx[np.flatnonzero(v == best)[0]])  # lowest index among ties


def reference_easy_hard(mat, pos, neg, ps, ns, inverted, prange=None, nrange=None):
    """Loop version of the documented rule (ranges applied to every side, ties -> lowest index)."""
    if prange is not None:
        pos = pos & (mat >= prange[0]) & (mat <= prange[1])
    if nrange is not None:
        neg = neg & (mat >= nrange[0]) & (mat <= nrange[1])
    pl = (ps in ("hard", "semihard")) != inverted
    nl = (ns in ("hard", "semihard")) == inverted

    def below_or_above(row, thr, largest):
        return row < thr if largest else row > thr

    chosen = []
    for i in range(mat.shape[0]):
        row = mat[i]
        p = n = None
        if ps == "semihard":
            n = pick(row, neg[i], nl)
            p = None if n is None else pick(row, pos[i] & below_or_above(row, row[n], pl), pl)
        elif ns == "semihard":
            p = pick(row, pos[i], pl)
            n = None if p is None else pick(row, neg[i] & below_or_above(row, row[p], nl), nl)
        else:
            p = pick(row, pos[i], pl) if ps != "all" else None
            n = pick(row, neg[i], nl) if ns != "all" else None
        chosen.append((p, n))
    if "all" not in (ps, ns):
        kept = [(i, p, n) for i, (p, n) in enumerate(chosen) if p is not None and n is not None]
        return [(i, p) for i, p, _ in kept], [(i, n) for i, _, n in kept]
    pos_pairs = row_major(pos) if ps == "all" else [(i, p) for i, (p, _) in enumerate(chosen) if p is not None]
    neg_pairs = row_major(neg) if ns == "all" else [(i, n) for i, (_, n) in enumerate(chosen) if n is not None]
    return pos_pairs, neg_pairs


@given(BATCHES, distances, st.sampled_from(VALID), st.booleans())
def test_batch_easy_hard(batch, dist, strategies, use_ranges):
    ranges = ((0.5, 1.5), (-0.5, 1.0)) if use_ranges else (None, None)
    miner = BatchEasyHardMiner(*strategies, *ranges, distance=dist)
    a1, p, a2, n = checked(miner, batch)
    if "all" not in strategies:
        assert a1.tolist() == a2.tolist()  # (a, p, a, n): one pair of each kind per kept anchor
    mat = host_matrix(miner, batch)
    pos, neg = host_masks(batch)
    exp_pos, exp_neg = reference_easy_hard(mat, pos, neg, *strategies, dist.is_inverted, *ranges)
    assert pair_list(a1, p) == exp_pos
    assert pair_list(a2, n) == exp_neg


@given(BATCHES, distances)
def test_batch_hard(batch, dist):
    miner = BatchHardMiner(distance=dist)
    a, p, n = checked(miner, batch)
    mat = host_matrix(miner, batch)
    pos, neg = host_masks(batch)
    inv = dist.is_inverted
    for i, pi, ni in zip(a.tolist(), p.tolist(), n.tolist()):
        P, N = np.flatnonzero(pos[i]), np.flatnonzero(neg[i])
        hardest_p = mat[i, P].min() if inv else mat[i, P].max()
        hardest_n = mat[i, N].max() if inv else mat[i, N].min()
        # argmax positive / argmin negative (swapped for similarities), lowest index among ties
        assert mat[i, pi] == hardest_p and pi == P[mat[i, P] == hardest_p][0]
        assert mat[i, ni] == hardest_n and ni == N[mat[i, N] == hardest_n][0]
    # one triplet per anchor that has a positive and a negative, in anchor order
    assert a.tolist() == [i for i in range(mat.shape[0]) if pos[i].any() and neg[i].any()]


# -- HDCMiner ----------------------------------------------------------------------------------


def reference_hdc(mat, mask, pct, largest):
    cand = row_major(mask)
    if not cand:
        return []
    k = int(math.ceil(pct * len(cand)))
    vals = np.array([mat[i, j] for i, j in cand])
    order = np.argsort(-vals if largest else vals, kind="stable")  # ties: earlier (row-major) first
    return sorted(cand[t] for t in order[:k])


@given(BATCHES, distances, st.sampled_from([0.1, 0.25, 0.5, 0.77, 1.0]))
def test_hdc(batch, dist, pct):
    miner = HDCMiner(pct, distance=dist)
    a1, p, a2, n = checked(miner, batch)
    mat = host_matrix(miner, batch).astype(mat_dtype(batch))
    pos, neg = host_masks(batch)
    assert len(a1) == (math.ceil(pct * pos.sum()) if pos.any() else 0)
    assert len(a2) == (math.ceil(pct * neg.sum()) if neg.any() else 0)
    pos_largest = not dist.is_inverted
    assert pair_list(a1, p) == reference_hdc(mat, pos, pct, pos_largest)
    assert pair_list(a2, n) == reference_hdc(mat, neg, pct, not pos_largest)


# -- UniformHistogramMiner ---------------------------------------------------------------------


def our_bins(values, lo, hi, nb, dtype):
    v = np.asarray(values, dtype=dtype)
    if hi == lo:
        return np.zeros(v.size, dtype=int)
    scale = dtype(nb) / (dtype(hi) - dtype(lo))
    return np.clip(np.floor((v - dtype(lo)) * scale), 0, nb - 1).astype(int)


@given(BATCHES, distances, st.integers(1, 6), st.integers(0, 4), st.integers(0, 4), st.integers(0, 2**32 - 1))
def test_uniform_histogram(batch, dist, nb, per_pos, per_neg, seed):
    miner = UniformHistogramMiner(nb, per_pos, per_neg, rng=seed, distance=dist)
    a1, p, a2, n = checked(miner, batch, allow_duplicates=True)
    dt = mat_dtype(batch)
    mat = host_matrix(miner, batch).astype(dt)
    pos, neg = host_masks(batch)
    for (a, o), mask, per in (((a1, p), pos, per_pos), ((a2, n), neg, per_neg)):
        population = mat[mask]
        if population.size == 0 or per == 0:
            assert len(a) == 0
            continue
        lo, hi = population.min(), population.max()
        nonempty = sorted(set(our_bins(population, lo, hi, nb, dt).tolist()))
        drawn = our_bins(mat[a, o], lo, hi, nb, dt).tolist()
        # per_bin draws from every non-empty bin, grouped by bin in increasing order
        assert drawn == [b for b in nonempty for _ in range(per)]
    # same seed, same output
    again = call(UniformHistogramMiner(nb, per_pos, per_neg, rng=seed, distance=dist), batch)
    assert [np.asarray(to_numpy(x)).tolist() for x in again] == [a1.tolist(), p.tolist(), a2.tolist(), n.tolist()]


# -- the same result on NumPy, torch and array-api-strict --------------------------------------


def _namespaces():
    spaces = [array_namespace(np.empty(0))]
    torch = pytest.importorskip("torch")
    spaces.append(array_namespace(torch.empty(0)))
    strict = pytest.importorskip("array_api_strict")
    spaces.append(strict)
    return spaces


EXACT = [lambda: DotProductSimilarity(normalize_embeddings=False), lambda: LpDistance(p=1, normalize_embeddings=False)]
MINER_FACTORIES = [
    lambda d: PairMarginMiner(0.5, 1.0, distance=d),
    lambda d: MultiSimilarityMiner(0.25, distance=d),
    lambda d: HDCMiner(0.5, distance=d),
    lambda d: BatchEasyHardMiner(distance=d),
    lambda d: BatchEasyHardMiner("semihard", "easy", allowed_pos_range=(0.0, 2.0), distance=d),
    lambda d: BatchEasyHardMiner("all", "hard", distance=d),
    lambda d: BatchHardMiner(distance=d),
    lambda d: UniformHistogramMiner(3, 2, 2, rng=0, distance=d),
]


@given(BATCHES, st.sampled_from(range(len(MINER_FACTORIES))), st.sampled_from(range(len(EXACT))))
def test_same_result_on_every_backend(batch, which, dist):
    miner = MINER_FACTORIES[which](EXACT[dist]())
    dup = isinstance(miner, UniformHistogramMiner)
    results = check_backend_consistency(miner, batch, _namespaces(), rng_seed=3, allow_duplicates=dup)
    # order too, not only the multisets
    outs = list(results.values())
    assert all(len(o) == len(outs[0]) and all(np.array_equal(x, y) for x, y in zip(o, outs[0])) for o in outs)


@given(BATCHES)
def test_uniform_histogram_deterministic(batch):
    out = check_deterministic(UniformHistogramMiner, batch, rng_seeds=(0, 5))
    assert set(out) == {0, 5}
    assert Counter(len(x) for x in out[0]) == Counter(len(x) for x in out[5])
