"""Hypothesis properties of the triplet miners, with the public testing kit.

Batches come from :func:`agnostic_ml.testing.strategies.miner_batches`: grid embeddings
(exact distance ties), duplicated rows, one class / unique labels / N = 0 and 1, with and
without a reference set. Properties:

- invariants (:func:`agnostic_ml.testing.check_miner_output`: namespace, device, dtype,
  index ranges, no self pairs without a reference set, label relations, no duplicates);
- TripletMarginMiner: every returned triplet satisfies its type's condition, and the
  returned set *is* the brute-force set of triplets satisfying it (completeness), on
  every backend; the same triplets on NumPy, torch and array-api-strict (with
  unnormalised distances, which are exact on grid data, so ties cannot flip between
  backends; normalised values may differ in the last bit between BLAS kernels);
- AngularMiner: completeness against a float64 loop, up to angles within rounding of
  the threshold;
- DistanceWeightedMiner: same seed, same output (twice, and across backends); every
  sampled negative has positive weight;
- EmbeddingsAlreadyPackagedAsTriplets: the fixed (0, 1, 2), (3, 4, 5), ... layout.
"""

from __future__ import annotations

import math

import array_api_compat as aac
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agnostic_ml.distances import CosineSimilarity, DotProductSimilarity, LpDistance
from agnostic_ml.miners import (
    AngularMiner,
    DistanceWeightedMiner,
    EmbeddingsAlreadyPackagedAsTriplets,
    TripletMarginMiner,
)
from agnostic_ml.testing import check_backend_consistency, check_deterministic, check_miner, check_miner_output
from agnostic_ml.testing.strategies import miner_batches
from helpers import miner_batches_on, rows_set, to_host, triplet_cube

N_MAX = 20
TYPES = ["all", "hard", "semihard", "easy"]
DISTANCES = {
    "lp": LpDistance,
    "lp_raw": lambda: LpDistance(normalize_embeddings=False),
    "cos": CosineSimilarity,
    "dot_raw": lambda: DotProductSimilarity(normalize_embeddings=False),
}
EXACT_DISTANCES = ["lp_raw", "dot_raw"]  # exact on grid data, on every backend


def batches(backend, **kw):
    return miner_batches_on(backend, **{"max_n": N_MAX, "dims": (1, 4), **kw})


def margin_condition(margin, kind, inverted):
    """PML's condition on m = d_an - d_ap (s_ap - s_an), evaluated in the matrix dtype."""

    def cond(mat, t):
        a, p, n = t
        ap, an = mat[a, p], mat[a, n]
        m = ap - an if inverted else an - ap
        mg = mat.dtype.type(margin)
        if kind == "easy":
            return m > mg
        ok = m <= mg
        if kind == "hard":
            ok &= m <= 0
        elif kind == "semihard":
            ok &= m > 0
        return ok

    return cond


def labels_of(batch, backend):
    lab = backend.to_numpy(batch.labels)
    rlab = lab if batch.ref_labels is None else backend.to_numpy(batch.ref_labels)
    return lab, rlab


margins = st.sampled_from([0.0, 0.25, 0.5, 1.0, -0.5, 0.1])


@settings(max_examples=25)
@given(data=st.data())
def test_triplet_margin_sound_and_complete(backend, data):
    batch = data.draw(batches(backend, dtype=data.draw(st.sampled_from(["float32", "float64"]))))
    kind = data.draw(st.sampled_from(TYPES))
    margin = data.draw(margins)
    dist = DISTANCES[data.draw(st.sampled_from(list(DISTANCES)))]()
    miner = TripletMarginMiner(margin=margin, type_of_triplets=kind, distance=dist)
    cond = margin_condition(margin, kind, dist.is_inverted)
    out = check_miner(miner, *batch.args(), condition=cond, expected_kind="triplets")
    got = to_host(backend, out)
    # completeness: exactly the triplets that satisfy the condition on the same matrix
    mat = np.asarray(backend.to_numpy(dist(batch.embeddings, batch.ref_emb)))
    lab, rlab = labels_of(batch, backend)
    everything = triplet_cube(lab, rlab, batch.ref_emb is None)
    keep = cond(mat, everything) if everything[0].size else np.zeros(0, dtype=bool)
    want = set(zip(*(x[keep].tolist() for x in everything)))
    assert rows_set(got) == want
    assert got[0].shape[0] == len(want)
    # grouped by (a, p) in lexicographic order
    pairs = list(zip(got[0].tolist(), got[1].tolist()))
    assert pairs == sorted(pairs)


@pytest.fixture
def cpu_namespaces():
    import torch

    return [aac.array_namespace(np.empty(0)), aac.array_namespace(torch.empty(0)), _strict()]


def _strict():
    import array_api_strict

    return aac.array_namespace(array_api_strict.empty(0))


@settings(max_examples=20)
@given(data=st.data())
def test_triplet_margin_same_on_every_backend(cpu_namespaces, data):
    batch = data.draw(miner_batches(max_n=N_MAX, dims=(1, 4), dtype=data.draw(st.sampled_from(["float32", "float64"]))))
    miner = TripletMarginMiner(
        margin=data.draw(margins),
        type_of_triplets=data.draw(st.sampled_from(TYPES)),
        distance=DISTANCES[data.draw(st.sampled_from(EXACT_DISTANCES))](),
    )
    check_backend_consistency(miner, batch, cpu_namespaces)


@settings(max_examples=20)
@given(data=st.data())
def test_angular_sound_and_complete(backend, data):
    dtype = data.draw(st.sampled_from(["float32", "float64"]))
    batch = data.draw(batches(backend, dtype=dtype, dims=(2, 4)))
    angle = data.draw(st.sampled_from([0.0, 10.0, 20.0, 30.0, 45.0, 60.0]))
    out = AngularMiner(angle=angle)(*batch.args())
    lab, rlab = labels_of(batch, backend)
    got = check_miner_output(out, batch.labels, batch.ref_labels, embeddings=batch.embeddings, expected_kind="triplets")
    e = np.asarray(backend.to_numpy(batch.embeddings), dtype=np.float64)
    r = e if batch.ref_emb is None else np.asarray(backend.to_numpy(batch.ref_emb), dtype=np.float64)

    def unit(x):
        nrm = np.linalg.norm(x, axis=1, keepdims=True)
        return x / np.maximum(nrm, 1e-12)

    e, r = unit(e), unit(r)
    a, p, n = triplet_cube(lab, rlab, batch.ref_emb is None)
    ap = np.linalg.norm(e[a] - r[p], axis=1)
    nc = np.linalg.norm(r[n] - (e[a] + r[p]) / 2, axis=1)
    ang = np.arctan2(ap, 2 * nc)
    thr = math.radians(angle)
    tol = 1e-4 if dtype == "float32" else 1e-9
    # a zero-norm row stays zero: any angle from it is degenerate, leave those out
    zero = np.linalg.norm(e, axis=1)[a] == 0
    zero |= np.linalg.norm(r, axis=1)[p] == 0
    zero |= np.linalg.norm(r, axis=1)[n] == 0
    sure = (np.abs(ang - thr) > tol) & (ap > tol) & ~zero
    want_in = set(zip(*(x[sure & (ang > thr)].tolist() for x in (a, p, n))))
    want_out = set(zip(*(x[sure & (ang <= thr)].tolist() for x in (a, p, n))))
    got_set = rows_set(got)
    assert want_in <= got_set
    assert not (want_out & got_set)


@settings(max_examples=20)
@given(data=st.data())
def test_distance_weighted_properties(backend, data):
    batch = data.draw(batches(backend, dtype=data.draw(st.sampled_from(["float32", "float64"]))))
    cutoff = data.draw(st.sampled_from([0.0, 0.5]))
    nonzero = data.draw(st.sampled_from([1.0, 1.4, 2.5]))
    seed = data.draw(st.integers(0, 2**16))
    miner = DistanceWeightedMiner(cutoff=cutoff, nonzero_loss_cutoff=nonzero, rng=seed)
    out = miner(*batch.args())
    a, p, n = check_miner_output(
        out, batch.labels, batch.ref_labels, embeddings=batch.embeddings, allow_duplicates=True, expected_kind="triplets"
    )
    lab = backend.to_numpy(batch.labels)
    w = backend.to_numpy(
        miner.weights(batch.embeddings, batch.labels, batch.ref_emb, batch.ref_labels)
    )
    assert np.all(w[a, n] > 0)  # only eligible negatives are drawn
    counts = np.bincount(a, minlength=lab.shape[0])
    eligible_rows = w.sum(1) > 0
    assert np.all(counts[~eligible_rows] == 0)
    # same seed, same output (and a fresh miner per seed)
    check_deterministic(miner, batch, [seed])  # the kit resets miner.rng to the seed before each run


@settings(max_examples=15)
@given(data=st.data())
def test_distance_weighted_same_on_every_backend(cpu_namespaces, data):
    batch = data.draw(miner_batches(max_n=N_MAX, dims=(2, 4), dtype="float64"))
    miner = DistanceWeightedMiner(cutoff=0.5, nonzero_loss_cutoff=1.4)
    check_backend_consistency(miner, batch, cpu_namespaces, rng_seed=data.draw(st.integers(0, 2**16)), allow_duplicates=True)


@settings(max_examples=15)
@given(k=st.integers(0, 7), d=st.integers(1, 3))
def test_packaged_layout(backend, k, d):
    emb = backend.asarray(np.zeros((3 * k, d)), backend.xp.float32)
    rows = np.arange(3 * k)
    lab = 2 * (rows // 3) + (rows % 3 == 2)  # anchor and positive share a label, the negative not
    out = EmbeddingsAlreadyPackagedAsTriplets()(emb, lab)
    a, p, n = check_miner_output(out, lab, embeddings=emb, expected_kind="triplets")
    assert a.tolist() == list(range(0, 3 * k, 3)) and (p - a).tolist() == [1] * k and (n - a).tolist() == [2] * k
