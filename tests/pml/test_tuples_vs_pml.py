"""agnostic_ml.tuples against PML's loss_and_miner_utils on random inputs (several seeds).

Deterministic functions must agree exactly, order included. Random triplets cannot agree
value for value (PML draws from torch's global RNG, we from an explicit NumPy Generator),
so there we compare what is deterministic (the anchor sequence, hence the counts) and the
sampling distributions.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
lmu = pytest.importorskip("pytorch_metric_learning.utils.loss_and_miner_utils")

from agnostic_ml import tuples  # noqa: E402

SEEDS = range(6)


def _labels(seed, n=None, classes=None):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 40)) if n is None else n
    classes = int(rng.integers(1, 7)) if classes is None else classes
    return rng.integers(0, classes, n)


def _eq(pml_out, ours):
    assert len(pml_out) == len(ours)
    for x, y in zip(pml_out, ours):
        assert torch.is_tensor(y) and y.dtype == torch.int64
        assert torch.equal(x.to(torch.int64), y), (x, y)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("with_ref", [False, True])
def test_all_pairs_and_triplets_equal_pml(seed, with_ref):
    lab = torch.as_tensor(_labels(seed))
    ref = torch.as_tensor(_labels(seed + 100)) if with_ref else None
    m_pml, d_pml = lmu.get_matches_and_diffs(lab, ref)
    m, d = tuples.get_matches_and_diffs(lab, ref)
    assert torch.equal(m_pml.bool(), m) and torch.equal(d_pml.bool(), d)
    _eq(lmu.get_all_pairs_indices(lab, ref), tuples.get_all_pairs_indices(lab, ref))
    _eq(lmu.get_all_triplets_indices(lab, ref), tuples.get_all_triplets_indices(lab, ref))
    # NumPy input gives the same indices
    np_out = tuples.get_all_triplets_indices(lab.numpy(), None if ref is None else ref.numpy())
    for x, y in zip(lmu.get_all_triplets_indices(lab, ref), np_out):
        np.testing.assert_array_equal(x.numpy(), y)


@pytest.mark.parametrize("seed", SEEDS)
def test_all_triplets_multi_block_equal_pml(seed, monkeypatch):
    monkeypatch.setattr(tuples, "TRIPLET_BLOCK", 37)
    lab = torch.as_tensor(_labels(seed, n=30, classes=4))
    _eq(lmu.get_all_triplets_indices(lab), tuples.get_all_triplets_indices(lab))


def _random_pairs(seed, lab):
    """A shuffled sample (with duplicates) of positive and negative pairs."""
    rng = np.random.default_rng(seed)
    a1, p, a2, n = (x.numpy() for x in lmu.get_all_pairs_indices(lab))
    i = rng.integers(0, len(a1), min(len(a1), 25)) if len(a1) else np.zeros(0, dtype=np.int64)
    j = rng.integers(0, len(a2), min(len(a2), 25)) if len(a2) else np.zeros(0, dtype=np.int64)
    return tuple(torch.as_tensor(x) for x in (a1[i], p[i], a2[j], n[j]))


@pytest.mark.parametrize("seed", SEEDS)
def test_conversions_equal_pml(seed):
    lab = torch.as_tensor(_labels(seed))
    pairs = _random_pairs(seed, lab)
    trip = lmu.get_all_triplets_indices(lab)
    _eq(lmu.convert_to_pairs(None, lab), tuples.convert_to_pairs(None, lab))
    _eq(lmu.convert_to_pairs(trip, lab), tuples.convert_to_pairs(trip, lab))
    _eq(lmu.convert_to_pairs(pairs, lab), tuples.convert_to_pairs(pairs, lab))
    _eq(lmu.convert_to_triplets(pairs, lab), tuples.convert_to_triplets(pairs, lab))  # order too
    _eq(lmu.convert_to_triplets(None, lab, t_per_anchor="all"), tuples.convert_to_triplets(None, lab, t_per_anchor="all"))
    for tup in (None, pairs, trip, tuple(x[:0] for x in trip)):
        for dtype in (torch.float32, torch.float64):
            for using_ref in (False, True):
                w_pml = lmu.convert_to_weights(tup, lab, dtype=dtype, using_ref=using_ref)
                w = tuples.convert_to_weights(tup, lab, dtype=dtype, using_ref=using_ref)
                assert w.dtype == dtype
                torch.testing.assert_close(w, w_pml, rtol=0, atol=0)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("add_one", [True, False])
@pytest.mark.parametrize("dim", [0, 1])
def test_logsumexp_equals_pml(seed, add_one, dim):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(7, 5, generator=g, dtype=torch.float64) * 4
    keep = torch.rand(7, 5, generator=g) > 0.5
    keep[0] = False
    for mask in (keep, None):
        torch.testing.assert_close(
            tuples.logsumexp(x, mask, add_one=add_one, dim=dim), lmu.logsumexp(x, mask, add_one=add_one, dim=dim)
        )


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("ref_is_subset", [False, True])
def test_remove_self_comparisons_equal_pml(seed, ref_is_subset):
    rng = np.random.default_rng(seed)
    ref_size = 12
    bsz = int(rng.integers(2, 8))  # PML mishandles a one-row batch (see test_tuples.py)
    start = int(rng.integers(0, ref_size))
    slots = torch.as_tensor((np.arange(bsz) + start) % ref_size)
    anchors = rng.integers(0, bsz, 60)
    others = rng.integers(0, ref_size, 60)
    others[:bsz] = slots.numpy()  # make sure some self-comparisons exist
    anchors[:bsz] = np.arange(bsz)
    a, p = (others, anchors) if ref_is_subset else (anchors, others)
    n = rng.integers(0, ref_size, 60)
    trip = tuple(torch.as_tensor(x) for x in (a, p, n))
    pairs = (trip[0], trip[1], torch.as_tensor(n[:7]), torch.as_tensor(n[7:14]))
    for tup in (trip, pairs):
        expected = lmu.remove_self_comparisons(tuple(t.clone() for t in tup), slots, ref_size, ref_is_subset)
        _eq(expected, tuples.remove_self_comparisons(tup, slots, ref_size, ref_is_subset))


# -- random triplets: deterministic parts exactly, random parts by distribution -------------------------
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("with_ref", [False, True])
@pytest.mark.parametrize("t_per_anchor", [None, 4])
def test_random_triplets_anchor_sequence_equals_pml(seed, with_ref, t_per_anchor):
    lab = torch.as_tensor(_labels(seed))
    ref = torch.as_tensor(_labels(seed + 50)) if with_ref else None
    torch.manual_seed(seed)
    a_pml, p_pml, n_pml = lmu.get_random_triplet_indices(lab, ref, t_per_anchor=t_per_anchor)
    a, p, n = tuples.get_random_triplet_indices(lab, ref, t_per_anchor=t_per_anchor, rng=seed)
    assert torch.equal(a, a_pml)  # anchor order (by label, then index) and counts match PML
    r = lab if ref is None else ref
    for aa, pp, nn in ((a, p, n), (a_pml, p_pml, n_pml)):
        assert torch.equal(lab[aa], r[pp]) and bool(torch.all(lab[aa] != r[nn]))
        if ref is None:
            assert bool(torch.all(aa != pp))


@pytest.mark.parametrize("seed", range(3))
def test_random_triplets_distributions_match_pml(seed):
    """Same positive and (weighted) negative frequencies as PML, within sampling error."""
    rng = np.random.default_rng(seed)
    lab = torch.as_tensor(np.repeat(np.arange(4), [3, 4, 2, 3]))
    w = torch.as_tensor(rng.random((12, 12)) * (rng.random((12, 12)) > 0.3))
    w[5] = 0  # an anchor without weight is skipped by both
    k = 3000
    torch.manual_seed(seed)
    out_pml = lmu.get_random_triplet_indices(lab, t_per_anchor=k, weights=w)
    out = tuples.get_random_triplet_indices(lab, t_per_anchor=k, weights=w, rng=seed)
    assert torch.equal(out[0], out_pml[0])
    labs = lab.numpy()
    wn = w.numpy()
    for a_idx, p_idx, n_idx in (out, out_pml):
        a_, p_, n_ = (x.numpy() for x in (a_idx, p_idx, n_idx))
        for anchor in np.unique(a_):
            sel = a_ == anchor
            neg = labs != labs[anchor]
            expected_n = np.where(neg, wn[anchor], 0) / np.where(neg, wn[anchor], 0).sum()
            freq_n = np.bincount(n_[sel], minlength=12) / sel.sum()
            np.testing.assert_allclose(freq_n, expected_n, atol=0.05)
            assert np.all(freq_n[expected_n == 0] == 0)  # zero weight: never drawn
            pos = (labs == labs[anchor]) & (np.arange(12) != anchor)
            freq_p = np.bincount(p_[sel], minlength=12) / sel.sum()
            np.testing.assert_allclose(freq_p, pos / pos.sum(), atol=0.05)
