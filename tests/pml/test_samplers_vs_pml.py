"""Our samplers against PML 2.9's under the same settings: lengths and batch-composition statistics.

The draws cannot be equal (PML uses NumPy's global state, we a seeded Generator), so the
comparisons are of distributions over many batches, with both samplers seeded so the test
is deterministic: per-batch class counts (exact structure), how often each class is
chosen, how often two classes share a batch, how often each item of a class is drawn, and
the repeats within a small class's m items. Frequencies must agree within 5 standard
errors of the difference. ``len()`` is compared with what PML's iteration actually yields.
"""

from __future__ import annotations

from collections import Counter
from itertools import combinations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pml_samplers = pytest.importorskip("pytorch_metric_learning.samplers")

from agnostic_ml_torch import miners, samplers  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SIZES = [1, 2, 3, 5, 8, 13, 21, 30]
LABELS = np.repeat(np.arange(len(SIZES)), SIZES)


def test_pml_names_are_served():
    theirs = {n for n in dir(pml_samplers) if n[:1].isupper()}
    assert theirs <= set(samplers.__all__)


def assert_same_rates(ours: np.ndarray, theirs: np.ndarray, n: int, what: str) -> None:
    """Two vectors of rates estimated from ``n`` trials each agree within 5 standard errors."""
    p = (ours + theirs) / 2
    se = np.sqrt(np.maximum(2 * p * (1 - p) / n, 1e-12))
    z = np.abs(ours - theirs) / se
    assert z.max() < 5, f"{what}: ours {np.round(ours, 4)} vs PML {np.round(theirs, 4)} (max z {z.max():.1f})"


def _batch_stats(flat, m, batch_size, labels):
    c = labels.max() + 1
    batches = np.asarray(flat).reshape(-1, batch_size)
    structure = Counter()
    chosen = np.zeros(c)
    pairs = Counter()
    items = np.zeros(len(labels))
    distinct_small = Counter()  # class 1 (2 items): distinct items among its m
    for b in batches:
        counts = Counter(labels[b].tolist())
        structure[tuple(sorted(counts.values()))] += 1
        for cl in counts:
            chosen[cl] += 1
        for pair in combinations(sorted(counts), 2):
            pairs[pair] += 1
        np.add.at(items, b, 1)
        if 1 in counts:
            distinct_small[len({i for i in b if labels[i] == 1})] += 1
    n = len(batches)
    pair_rates = np.array([pairs[p] for p in combinations(range(c), 2)]) / n
    return dict(n=n, structure=structure, chosen=chosen / n, pairs=pair_rates, items=items, small=distinct_small)


def test_m_per_class_batch_composition_matches_pml():
    m, batch_size, length = 3, 12, 12 * 3000
    np.random.seed(0)
    theirs = _batch_stats(list(pml_samplers.MPerClassSampler(LABELS, m, batch_size, length)), m, batch_size, LABELS)
    ours = _batch_stats(list(samplers.MPerClassSampler(LABELS, m, batch_size, length, seed=0)), m, batch_size, LABELS)
    n = ours["n"]
    assert n == theirs["n"] == 3000
    assert ours["structure"] == theirs["structure"] == {(3, 3, 3, 3): n}  # exactly m per class, k classes
    assert_same_rates(ours["chosen"], theirs["chosen"], n, "class chosen per batch")  # k / C each
    np.testing.assert_allclose(ours["chosen"], 4 / 8, atol=0.05)
    assert_same_rates(ours["pairs"], theirs["pairs"], n, "two classes in one batch")
    # each item's share of its class's draws (uniform within a class)
    for cl in range(len(SIZES)):
        members = np.flatnonzero(LABELS == cl)
        o = ours["items"][members] / ours["items"][members].sum()
        t = theirs["items"][members] / theirs["items"][members].sum()
        draws = int(ours["chosen"][cl] * n * m)
        assert_same_rates(o, t, draws, f"items of class {cl}")
    # a 2-item class gives 3 draws with replacement: 1 distinct item with probability 1/4
    k_o, k_t = sum(ours["small"].values()), sum(theirs["small"].values())
    assert set(ours["small"]) == set(theirs["small"]) == {1, 2}
    assert abs(ours["small"][1] / k_o - theirs["small"][1] / k_t) < 5 * np.sqrt(0.1875 * (1 / k_o + 1 / k_t))
    assert abs(ours["small"][1] / k_o - 0.25) < 0.05


def test_m_per_class_passes_match_pml():
    m, length = 2, 16 * 1500
    np.random.seed(1)
    theirs = np.asarray(list(pml_samplers.MPerClassSampler(LABELS, m, None, length))).reshape(-1, 16)
    ours = np.asarray(list(samplers.MPerClassSampler(LABELS, m, None, length, seed=1))).reshape(-1, 16)
    assert ours.shape == theirs.shape == (1500, 16)
    for passes in (ours, theirs):  # every pass: every class once, m consecutive items each
        lab = LABELS[passes].reshape(1500, 8, m)
        assert (lab == lab[:, :, :1]).all() and (np.sort(lab[:, :, 0], axis=1) == np.arange(8)).all()
    # where class 0 (one item) falls in the pass: uniform over the 8 slots in both
    slot = lambda p: np.bincount(np.argmax(LABELS[p[:, ::m]] == 0, axis=1), minlength=8) / len(p)  # noqa: E731
    assert_same_rates(slot(ours), slot(theirs), 1500, "slot of class 0 in a pass")


@pytest.mark.parametrize(
    "m,batch_size,length",
    [(2, None, 100), (2, None, 16), (2, None, 15), (3, None, 10), (2, 4, 100), (2, 16, 17), (3, 9, 9), (1, 8, 1000)],
)
def test_len_is_what_pml_yields(m, batch_size, length):
    np.random.seed(0)
    pml = pml_samplers.MPerClassSampler(LABELS, m, batch_size, length)
    ours = samplers.MPerClassSampler(LABELS, m, batch_size, length, seed=0)
    yielded = len(list(pml))
    assert len(ours) == len(list(ours)) == yielded
    quirk = batch_size is None and length < m * len(SIZES)
    assert (len(pml) == yielded) != quirk  # PML's len differs exactly in its quirk case


def _hier_labels():
    inner = np.repeat(np.arange(12), [1, 2, 3, 4, 5, 6] * 2)
    return np.stack([inner, inner // 3], axis=1)


@pytest.mark.parametrize("spc", [2, "all"])
def test_hierarchical_matches_pml(spc):
    lab = _hier_labels()
    kw = dict(batch_size=12, samples_per_class=spc, batches_per_super_tuple=4)
    np.random.seed(2)
    pml = pml_samplers.HierarchicalSampler(lab, **kw)
    ours = samplers.HierarchicalSampler(lab, **kw, seed=2)
    assert len(ours) == len(pml) == 24

    def stats(sampler, epochs=40):
        sizes, per_super, classes = Counter(), Counter(), np.zeros(12)
        for _ in range(epochs):
            for b in sampler:
                sizes[len(b)] += 1
                for s, n in Counter(lab[b, 1].tolist()).items():
                    per_super[n] += 1
                for c in set(lab[b, 0].tolist()):
                    classes[c] += 1
        n = epochs * 24
        return sizes, per_super, classes / n, n

    so, po, co, n = stats(ours)
    st, pt, ct, _ = stats(pml)
    keys = sorted(set(so) | set(st))
    assert_same_rates(np.array([so[k] for k in keys]) / n, np.array([st[k] for k in keys]) / n, n, "batch sizes")
    keys = sorted(set(po) | set(pt))
    assert_same_rates(np.array([po[k] for k in keys]) / (2 * n), np.array([pt[k] for k in keys]) / (2 * n), 2 * n,
                      "items per super-class")
    assert_same_rates(co, ct, n, "class in a batch")


def test_fixed_set_of_triplets_matches_pml():
    np.random.seed(3)
    pml = pml_samplers.FixedSetOfTriplets(LABELS, 4000)
    ours = samplers.FixedSetOfTriplets(LABELS, 4000, seed=3)
    assert len(ours) == len(pml) == 12000
    t_o, t_p = ours.fixed_set_of_triplets, pml.fixed_set_of_triplets
    c = len(SIZES)
    for col in (0, 2):  # anchor and negative classes: uniform over classes
        assert_same_rates(np.bincount(LABELS[t_o[:, col]], minlength=c) / 4000,
                          np.bincount(LABELS[t_p[:, col]], minlength=c) / 4000, 4000, f"class of column {col}")
    for t in (t_o, t_p):
        assert (LABELS[t[:, 0]] == LABELS[t[:, 1]]).all() and (LABELS[t[:, 0]] != LABELS[t[:, 2]]).all()
        assert ((t[:, 0] == t[:, 1]) == (LABELS[t[:, 0]] == 0)).all()  # a == p only in the one-item class
    # every epoch is a reordering of the set, flattened, in both
    for s, t in ((ours, t_o), (pml, t_p)):
        rows = np.asarray(list(s)).reshape(-1, 3)
        assert sorted(map(tuple, rows.tolist())) == sorted(map(tuple, t.tolist()))


def test_tuples_to_weights_weights_equal_pml():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(40, 5, generator=g)
    y = torch.arange(40) % 4
    ds = torch.utils.data.TensorDataset(x, y)
    model = torch.nn.Linear(5, 3)
    from pytorch_metric_learning import miners as pml_miners

    for miner in (pml_miners.MultiSimilarityMiner(epsilon=0.1), miners.TripletMarginMiner(margin=0.2)):
        pml = pml_samplers.TuplesToWeightsSampler(model, miner, ds, dataloader_num_workers=0, data_device="cpu")
        ours = samplers.TuplesToWeightsSampler(model, miner, ds, dataloader_num_workers=0, seed=0)
        drawn_p, drawn_o = list(pml), list(ours)
        torch.testing.assert_close(ours.weights, pml.weights)
        assert len(drawn_o) == len(drawn_p) == len(ours) == len(pml) == 40
        assert all(float(ours.weights[i]) > 0 for i in drawn_o)


def test_cover_all_mixes_classes_as_pml_does():
    # equal class sizes: cover_all's batches should pair classes as uniformly as PML's draws
    labels = np.repeat(np.arange(12), 12)
    m, batch_size = 2, 6
    ours = samplers.MPerClassSampler(labels, m, batch_size, cover_all=True, seed=4)
    flat = [i for _ in range(100) for i in ours]
    n = len(flat) // batch_size
    np.random.seed(4)
    theirs = list(pml_samplers.MPerClassSampler(labels, m, batch_size, n * batch_size))
    so, st = _batch_stats(flat, m, batch_size, labels), _batch_stats(theirs, m, batch_size, labels)
    assert so["n"] == st["n"] == n == 2400
    assert so["structure"] == st["structure"] == {(2, 2, 2): n}
    np.testing.assert_allclose(so["chosen"], 3 / 12)  # exactly: every class fills its 6 chunks per epoch
    assert_same_rates(so["pairs"], st["pairs"], n, "two classes in one batch")
