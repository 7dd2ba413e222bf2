"""agnostic_ml_torch.samplers: structure, lengths, coverage, seeds, rank shares, resume, errors.

- MPerClassSampler (and its batch form): every batch holds m items of each of
  batch_size // m distinct classes; ``len()`` equals what iteration yields (PML's quirk
  case included); every class is visited; cover_all visits every item; draws are within
  the class without replacement when the class is large enough;
- seeds, generators and torch's global seed make runs repeat; epochs differ;
- rank shares are disjoint, hold m per class, and their union is the single-process batch;
- state_dict / load_state_dict: stopping after k units and resuming in a fresh sampler
  (also through torch.save / torch.load(weights_only=True)) gives the uninterrupted stream;
- HierarchicalSampler, FixedSetOfTriplets, TuplesToWeightsSampler: their structure, state
  and errors; the modules' docstring examples run.

Statistics compared with PML's samplers are in tests/pml/test_samplers_vs_pml.py.
"""

from __future__ import annotations

import doctest
import importlib
import io
from collections import Counter
from itertools import islice

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from agnostic_ml.tuples import convert_to_weights  # noqa: E402
from agnostic_ml_torch import miners, samplers  # noqa: E402
from agnostic_ml_torch.samplers import (  # noqa: E402
    DistributedMPerClassSampler,
    FixedSetOfTriplets,
    HierarchicalSampler,
    MPerClassBatchSampler,
    MPerClassSampler,
    TuplesToWeightsSampler,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

#: 6 classes of sizes 1, 2, 3, 5, 8, 13 (two are smaller than m = 3 below).
SIZES = [1, 2, 3, 5, 8, 13]
LABELS = np.repeat(np.arange(len(SIZES)), SIZES)


def batches_of(flat, size):
    return [flat[i : i + size] for i in range(0, len(flat), size)]


def assert_m_per_class(batch, labels, m, k):
    counts = Counter(labels[i] for i in batch)
    assert len(counts) == k and set(counts.values()) == {m}, counts


def take(sampler, n):
    return list(islice(iter(sampler), n))


# -- import path ----------------------------------------------------------------------
def test_samplers_module_is_served():
    import agnostic_ml_torch

    assert agnostic_ml_torch.samplers is samplers and "samplers" in agnostic_ml_torch.__all__


@pytest.mark.parametrize(
    "module",
    [
        "m_per_class_sampler",
        "m_per_class_batch_sampler",
        "distributed_m_per_class_sampler",
        "hierarchical_sampler",
        "fixed_set_of_triplets",
        "tuples_to_weights_sampler",
    ],
)
def test_docstring_examples_run(module):
    mod = importlib.import_module(f"agnostic_ml_torch.samplers.{module}")
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


# -- MPerClassSampler: structure and lengths -------------------------------------------
@pytest.mark.parametrize("m,batch_size,length", [(3, 12, 120), (3, 18, 100), (2, 4, 4), (1, 6, 60), (5, 5, 17)])
def test_every_batch_has_m_per_class_and_len_equals_iteration(m, batch_size, length):
    s = MPerClassSampler(LABELS, m, batch_size, length, seed=0)
    idx = list(s)
    assert len(idx) == len(s) == (length // batch_size) * batch_size == s.num_batches * batch_size
    for b in batches_of(idx, batch_size):
        assert_m_per_class(b, LABELS, m, batch_size // m)
        # within a class: no repeat when the class has >= m items
        for c in set(LABELS[b].tolist()):
            if SIZES[c] >= m:
                assert len({i for i in b if LABELS[i] == c}) == m
        # m consecutive indices per class, as PML
        assert all(len({LABELS[i] for i in b[j : j + m]}) == 1 for j in range(0, batch_size, m))


def test_every_class_is_visited():
    s = MPerClassSampler(LABELS, 2, 4, 400, seed=1)
    assert {LABELS[i] for i in s} == set(range(len(SIZES)))


def test_without_batch_size_each_pass_visits_every_class_once():
    m = 2
    s = MPerClassSampler(LABELS, m, length_before_new_iter=50, seed=2)
    idx = list(s)
    single = m * len(SIZES)
    assert len(s) == len(idx) == (50 // single) * single == 48
    for p in batches_of(idx, single):
        assert Counter(LABELS[i] for i in p) == {c: m for c in range(len(SIZES))}


def test_len_matches_iteration_where_pml_does_not():
    # PML: len 20, but 40 indices come out (reference section 1.9). Ours: both are one pass.
    labels = np.repeat(np.arange(10), 5)
    s = MPerClassSampler(labels, 4, length_before_new_iter=20, seed=0)
    assert len(s) == len(list(s)) == 40


def test_dataloader_batches_have_m_per_class():
    ds = torch.utils.data.TensorDataset(torch.arange(len(LABELS)), torch.as_tensor(LABELS))
    s = MPerClassSampler(torch.as_tensor(LABELS), 3, 9, 45, seed=0)
    loader = torch.utils.data.DataLoader(ds, batch_size=9, sampler=s)
    got = [y.tolist() for _, y in loader]
    assert len(got) == 5
    for y in got:
        assert sorted(Counter(y).values()) == [3, 3, 3]


def test_batch_sampler_form_equals_the_flat_stream():
    kw = dict(m=2, batch_size=6, length_before_new_iter=60, seed=4)
    bs = MPerClassBatchSampler(LABELS, **kw)
    flat = MPerClassSampler(LABELS, **kw)
    batches = list(bs)
    assert len(bs) == len(batches) == 10
    assert sum(batches, []) == list(flat)
    ds = torch.utils.data.TensorDataset(torch.as_tensor(LABELS))
    loader = torch.utils.data.DataLoader(ds, batch_sampler=MPerClassBatchSampler(LABELS, **kw))
    assert [y.tolist() for (y,) in loader] == [[int(LABELS[i]) for i in b] for b in batches]


def test_pml_attributes():
    s = MPerClassSampler(LABELS, 3, 9, 100, seed=0)
    assert s.m_per_class == 3 and s.batch_size == 9 and s.list_size == 99 == len(s)
    assert s.length_of_single_pass == 18 and s.labels == list(range(6)) and s.calculate_num_iters() == 11
    assert {k: v.tolist() for k, v in s.labels_to_indices.items()} == {
        c: np.flatnonzero(LABELS == c).tolist() for c in range(6)
    }
    assert "MPerClassSampler(m=3" in repr(s)


def test_any_label_values_and_devices():
    strings = ["cat", "dog", "cat", "emu", "dog", "emu"]
    s = MPerClassSampler(strings, 2, 4, 8, seed=0)
    for b in batches_of(list(s), 4):
        assert sorted(Counter(strings[i] for i in b).values()) == [2, 2]
    t = MPerClassSampler(torch.tensor([0.5, 0.5, 2.0, 2.0]), 2, 4, 8, seed=0)
    assert sorted(t) == [0, 0, 1, 1, 2, 2, 3, 3]


# -- cover_all ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "labels,m,batch_size",
    [
        (LABELS, 3, 9),
        (LABELS, 2, 12),
        (LABELS, 4, 24),  # every class in every batch
        (np.concatenate([np.zeros(60, int), np.arange(1, 6)]), 2, 4),  # one class dominates
        (np.repeat(np.arange(7), 4), 4, 8),  # exact fit, no padding
    ],
)
def test_cover_all_visits_every_item_with_m_per_class(labels, m, batch_size):
    s = MPerClassBatchSampler(labels, m, batch_size, cover_all=True, seed=3)
    sizes = np.bincount(labels)
    q = -(-sizes // m)
    k = batch_size // m
    expected = max(-(-int(q.sum()) // k), int(q.max()))
    for _ in range(2):  # two epochs, both covering
        batches = list(s)
        assert len(batches) == len(s) == expected
        assert set().union(*map(set, batches)) == set(range(len(labels)))
        for b in batches:
            assert_m_per_class(b, labels, m, k)
            for c in {labels[i] for i in b}:
                if sizes[c] >= m:
                    assert len({i for i in b if labels[i] == c}) == m


def test_cover_all_epochs_differ_and_repeat_by_seed():
    a = MPerClassBatchSampler(LABELS, 2, 6, cover_all=True, seed=9)
    b = MPerClassBatchSampler(LABELS, 2, 6, cover_all=True, seed=9)
    e0, e1 = list(a), list(a)
    assert e0 != e1 and list(b) == e0 and list(b) == e1


# -- randomness -----------------------------------------------------------------------
def test_seed_generator_and_global_seed_repeat():
    kw = dict(m=2, batch_size=4, length_before_new_iter=40)
    assert list(MPerClassSampler(LABELS, seed=5, **kw)) == list(MPerClassSampler(LABELS, seed=5, **kw))
    assert list(MPerClassSampler(LABELS, seed=5, **kw)) != list(MPerClassSampler(LABELS, seed=6, **kw))
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert list(MPerClassSampler(LABELS, generator=g1, **kw)) == list(MPerClassSampler(LABELS, generator=g2, **kw))
    n1, n2 = np.random.default_rng(3), np.random.default_rng(3)
    assert list(MPerClassSampler(LABELS, generator=n1, **kw)) == list(MPerClassSampler(LABELS, generator=n2, **kw))
    torch.manual_seed(11)
    x = list(MPerClassSampler(LABELS, **kw))
    torch.manual_seed(11)
    assert list(MPerClassSampler(LABELS, **kw)) == x
    assert list(MPerClassSampler(LABELS, **kw)) != x  # fresh randomness by default


def test_epochs_advance_and_set_epoch_replays():
    s = MPerClassSampler(LABELS, 2, 4, 40, seed=0)
    e0, e1 = list(s), list(s)
    assert e0 != e1 and s.epoch == 2
    s.set_epoch(0)
    assert list(s) == e0
    s.set_epoch(1)
    assert list(s) == e1


# -- rank shares ----------------------------------------------------------------------
@pytest.mark.parametrize("cover_all", [False, True])
@pytest.mark.parametrize("world", [2, 3])
def test_rank_shares_are_disjoint_and_union_is_the_batch(world, cover_all):
    m, batch_size = 2, 12  # 6 classes per batch
    whole = MPerClassBatchSampler(LABELS, m, batch_size, 60, seed=7, cover_all=cover_all)
    ranks = [
        DistributedMPerClassSampler(LABELS, m, batch_size, 60, num_replicas=world, rank=r, seed=7, cover_all=cover_all)
        for r in range(world)
    ]
    local = batch_size // world
    shares = [batches_of(list(r), local) for r in ranks]
    glob = list(whole)
    assert all(len(r) == len(glob) * local for r in ranks)
    for b, batch in enumerate(glob):
        parts = [shares[r][b] for r in range(world)]
        assert sum(parts, []) == batch
        for p in parts:
            assert_m_per_class(p, LABELS, m, batch_size // m // world)
        for r1 in range(world):
            for r2 in range(r1 + 1, world):
                assert not set(parts[r1]) & set(parts[r2])
    # the batch form gives the same shares
    bs = MPerClassBatchSampler(LABELS, m, batch_size, 60, seed=7, num_replicas=world, rank=1, cover_all=cover_all)
    assert list(bs) == shares[1]


def test_distributed_defaults(monkeypatch):
    with pytest.raises(ValueError, match="process group"):
        DistributedMPerClassSampler(LABELS, 2, 4)
    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.distributed, "get_world_size", lambda *a: 2)
    monkeypatch.setattr(torch.distributed, "get_rank", lambda *a: 1)
    s = DistributedMPerClassSampler(LABELS, 2, 4, 40)
    assert (s.num_replicas, s.rank, s.local_batch_size, len(s)) == (2, 1, 2, 20)
    t = DistributedMPerClassSampler(LABELS, 2, 4, 40, num_replicas=2, rank=1, seed=0)
    assert list(s) == list(t)  # seed 0 by default, as DistributedSampler


# -- state and resume -----------------------------------------------------------------
def _resume_equals_uninterrupted(make, k, epochs=3, roundtrip=False):
    whole = make(0)
    full = [u for _ in range(epochs) for u in whole]
    first = make(0)
    head = take(first, k)
    state = first.state_dict()
    if roundtrip:
        buf = io.BytesIO()
        torch.save(state, buf)
        buf.seek(0)
        state = torch.load(buf, weights_only=True)
    fresh = make(123)  # another seed: the state must carry everything
    fresh.load_state_dict(state)
    fresh.set_epoch(state["epoch"])  # a resumed loop calling set_epoch keeps the position
    rest = []
    while len(head) + len(rest) < len(full):
        rest.extend(fresh)
    assert head + rest[: len(full) - len(head)] == full


@pytest.mark.parametrize("k", [0, 1, 7, 20, 21, 50])
@pytest.mark.parametrize(
    "make",
    [
        lambda s: MPerClassSampler(LABELS, 3, 6, 21, seed=s),
        lambda s: MPerClassSampler(LABELS, 3, length_before_new_iter=40, seed=s),
        lambda s: MPerClassBatchSampler(LABELS, 2, 4, 40, seed=s, cover_all=True),
        lambda s: DistributedMPerClassSampler(LABELS, 2, 8, 40, num_replicas=2, rank=1, seed=s),
        lambda s: HierarchicalSampler(np.stack([LABELS, LABELS % 3], 1), 4, 2, batches_per_super_tuple=3, seed=s),
        lambda s: FixedSetOfTriplets(LABELS, 5, seed=s),
    ],
    ids=["m_per_class", "passes", "cover_all_batches", "distributed", "hierarchical", "fixed_triplets"],
)
def test_resume_continues_the_uninterrupted_stream(make, k):
    _resume_equals_uninterrupted(make, k)


def test_resume_through_torch_save_weights_only():
    _resume_equals_uninterrupted(lambda s: MPerClassSampler(LABELS, 2, 4, 40, seed=s), 13, roundtrip=True)


@pytest.mark.parametrize("batch_form", [False, True])
def test_dataloader_killed_mid_epoch_resumes_with_the_same_batches(batch_form):
    ds = torch.utils.data.TensorDataset(torch.arange(len(LABELS)))

    def loader(seed):
        if batch_form:
            s = MPerClassBatchSampler(LABELS, 2, 6, 60, seed=seed)
            return s, torch.utils.data.DataLoader(ds, batch_sampler=s)
        s = MPerClassSampler(LABELS, 2, 6, 60, seed=seed)
        return s, torch.utils.data.DataLoader(ds, batch_size=6, sampler=s)

    def run(dl, epochs):
        return [b.tolist() for _ in range(epochs) for (b,) in dl]

    _, dl = loader(0)
    uninterrupted = run(dl, 3)
    s, dl = loader(0)
    done = []
    for (b,) in dl:  # "killed" after 4 of the epoch's 10 batches, checkpoint written
        done.append(b.tolist())
        if len(done) == 4:
            break
    buf = io.BytesIO()
    torch.save({"sampler": s.state_dict()}, buf)
    buf.seek(0)
    s2, dl2 = loader(99)  # the restarted process builds everything anew
    s2.load_state_dict(torch.load(buf, weights_only=True)["sampler"])
    resumed = done + run(dl2, 3)
    assert resumed[: len(uninterrupted)] == uninterrupted


def test_an_early_stop_is_continued_by_the_next_iterator():
    s = MPerClassSampler(LABELS, 2, 4, 20, seed=0)
    whole = list(MPerClassSampler(LABELS, 2, 4, 20, seed=0))
    head = take(s, 6)
    assert head + list(s) == whole and s.epoch == 1 and s.position == 0


def test_consumed_position_can_be_set_by_a_trainer():
    s = MPerClassBatchSampler(LABELS, 2, 4, 40, seed=0)
    whole = list(MPerClassBatchSampler(LABELS, 2, 4, 40, seed=0))
    take(s, 5)  # e.g. 5 batches fetched, 3 consumed by the training loop
    state = dict(s.state_dict(), position=3)
    fresh = MPerClassBatchSampler(LABELS, 2, 4, 40, seed=1)
    fresh.load_state_dict(state)
    assert list(fresh) == whole[3:]


def test_load_state_rejects_another_sampler():
    s = MPerClassSampler(LABELS, 2, 4, 40, seed=0)
    with pytest.raises(ValueError, match="units"):
        MPerClassSampler(LABELS, 2, 4, 80).load_state_dict(s.state_dict())
    with pytest.raises(ValueError, match="sampler"):
        MPerClassBatchSampler(LABELS, 2, 4, 40).load_state_dict(s.state_dict())
    with pytest.raises(ValueError, match="lacks"):
        s.load_state_dict({"epoch": 0})
    with pytest.raises(ValueError, match="exceeds"):
        s.load_state_dict(dict(s.state_dict(), position=41))
    with pytest.raises(TypeError):
        s.load_state_dict([1, 2])


# -- errors ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(labels=[], m=2), "empty"),
        (dict(labels=[[0, 1]], m=2), "1-D"),
        (dict(m=0), "m must be >= 1"),
        (dict(m=2.5), "m must be an integer"),
        (dict(m=4, batch_size=10), r"multiple of m"),
        (dict(m=3, batch_size=21), r"m \* \(number of classes\) = 3 \* 6 = 18 is smaller than batch_size \(21\)"),
        (dict(m=2, batch_size=8, length_before_new_iter=6), r"length_before_new_iter \(6\) must be >= batch_size \(8\)"),
        (dict(m=2, batch_size=0), "batch_size must be >= 1"),
        (dict(m=2, cover_all=True), "cover_all=True needs batch_size"),
        (dict(m=2, num_replicas=2, seed=0), "needs batch_size"),
        (dict(m=2, batch_size=6, num_replicas=2, seed=0), r"3 classes per batch must be divisible by num_replicas \(2\)"),
        (dict(m=2, batch_size=4, num_replicas=2), "seed"),
        (dict(m=2, batch_size=4, num_replicas=2, rank=2, seed=0), r"rank must be in \[0, num_replicas = 2\)"),
        (dict(m=2, seed=-1), "seed must be >= 0"),
        (dict(m=2, seed=1, generator=torch.Generator()), "not both"),
    ],
)
def test_m_per_class_errors(kwargs, match):
    kwargs = dict(kwargs)
    labels = kwargs.pop("labels", LABELS)
    with pytest.raises((ValueError, TypeError), match=match):
        MPerClassSampler(labels, **kwargs)


def test_other_errors():
    with pytest.raises(TypeError, match="generator"):
        MPerClassSampler(LABELS, 2, generator=3)
    with pytest.raises(ValueError, match="needs batch_size"):
        MPerClassBatchSampler(LABELS, 2, None)
    with pytest.raises(ValueError, match="epoch must be >= 0"):
        MPerClassSampler(LABELS, 2).set_epoch(-1)


# -- HierarchicalSampler --------------------------------------------------------------
def _hier_labels():
    # 12 classes in 4 super-classes (3 each), class sizes 1..6
    inner = np.repeat(np.arange(12), [1, 2, 3, 4, 5, 6] * 2)
    return np.stack([inner, inner // 3], axis=1)


@pytest.mark.parametrize("spc", [2, 1, "all"])
def test_hierarchical_batches(spc):
    lab = _hier_labels()
    s = HierarchicalSampler(lab, batch_size=12, samples_per_class=spc, batches_per_super_tuple=3, seed=0)
    batches = list(s)
    assert len(s) == len(batches) == 6 * 3  # C(4, 2) super pairs
    pairs = Counter()
    for b in batches:
        assert len(b) <= 12
        supers = Counter(lab[i, 1] for i in b)
        assert len(supers) == 2 and all(v <= 6 for v in supers.values())
        pairs[tuple(sorted(supers))] += 1
        for c, n in Counter(lab[i, 0] for i in b).items():
            assert n == (np.sum(lab[:, 0] == c) if spc == "all" else spc)
    assert set(pairs.values()) == {3} and len(pairs) == 6


def test_hierarchical_errors():
    lab = _hier_labels()
    with pytest.raises(ValueError, match="multiple of super_classes_per_batch"):
        HierarchicalSampler(lab, 9, 2)
    with pytest.raises(ValueError, match="multiple of samples_per_class"):
        HierarchicalSampler(lab, 12, 4)
    with pytest.raises(ValueError, match="positive int or 'all'"):
        HierarchicalSampler(lab, 12, "some")
    with pytest.raises(ValueError, match="samples_per_class must be >= 1"):
        HierarchicalSampler(lab, 12, 0)
    with pytest.raises(ValueError, match="fewer than super_classes_per_batch"):
        HierarchicalSampler(lab, 10, 2, super_classes_per_batch=5)
    with pytest.raises(ValueError, match="2-D"):
        HierarchicalSampler(lab[:, 0], 12, 2)
    with pytest.raises(ValueError, match="not a column"):
        HierarchicalSampler(lab, 12, 2, outer_label=2)


# -- FixedSetOfTriplets ---------------------------------------------------------------
def test_fixed_set_of_triplets():
    s = FixedSetOfTriplets(LABELS, 40, seed=0)
    trip = s.fixed_set_of_triplets
    assert trip.shape == (40, 3)
    a, p, n = trip.T
    assert (LABELS[a] == LABELS[p]).all() and (LABELS[a] != LABELS[n]).all()
    assert ((a != p) | (LABELS[a] == 0)).all()  # the same item only for the one-item class
    e0, e1 = list(s), list(s)
    assert len(s) == len(e0) == 120 and e0 != e1
    as_set = lambda e: sorted(map(tuple, np.asarray(e).reshape(-1, 3).tolist()))  # noqa: E731
    assert as_set(e0) == as_set(e1) == sorted(map(tuple, trip.tolist()))
    with pytest.raises(ValueError, match="num_triplets must be >= 1"):
        FixedSetOfTriplets(LABELS, 0)
    with pytest.raises(ValueError, match="two"):
        FixedSetOfTriplets([3, 3, 3], 2)


def test_fixed_set_is_rebuilt_from_a_loaded_state():
    s = FixedSetOfTriplets(LABELS, 10, seed=0)
    t = FixedSetOfTriplets(LABELS, 10, seed=1)
    t.load_state_dict(s.state_dict())
    assert (t.fixed_set_of_triplets == s.fixed_set_of_triplets).all() and list(t) == list(s)


# -- TuplesToWeightsSampler -----------------------------------------------------------
def _weights_setup():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(30, 4, generator=g)
    y = torch.arange(30) % 3
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Dropout(0.5))
    return torch.utils.data.TensorDataset(x, y), model, x, y


def test_tuples_to_weights_weights_are_the_mined_counts():
    ds, model, x, y = _weights_setup()
    miner = miners.TripletMarginMiner(margin=0.1)
    model.train()
    s = TuplesToWeightsSampler(model, miner, ds, dataloader_num_workers=0, batch_size=7, seed=0)
    idx = list(s)
    assert model.training  # the mode is restored
    with torch.no_grad():
        model.eval()
        emb = torch.nn.functional.normalize(model(x))
    expected = convert_to_weights(miner(emb, y), y, dtype=torch.float32)
    torch.testing.assert_close(s.weights, expected)
    assert len(idx) == len(s) == 30
    assert all(s.weights[i] > 0 for i in idx)


def test_tuples_to_weights_subset_and_seed():
    ds, model, _, _ = _weights_setup()
    miner = miners.BatchHardMiner()
    make = lambda seed: TuplesToWeightsSampler(model, miner, ds, 12, dataloader_num_workers=0, seed=seed)  # noqa: E731
    a, b = make(1), make(1)
    ia = list(a)
    assert ia == list(b) and len(ia) == len(a) == 12
    assert int((a.weights > 0).sum()) <= 12 and list(a) != ia  # a new subset next epoch
    c = make(2)
    drawn = list(c)
    assert drawn != ia and all(float(c.weights[i]) > 0 for i in drawn)  # only mined items are drawn


def test_tuples_to_weights_resume_keeps_the_epoch_after_the_model_changed():
    ds, model, _, _ = _weights_setup()
    miner = miners.BatchHardMiner()
    s = TuplesToWeightsSampler(model, miner, ds, dataloader_num_workers=0, seed=0)
    whole = list(TuplesToWeightsSampler(model, miner, ds, dataloader_num_workers=0, seed=0))
    head = take(s, 11)
    buf = io.BytesIO()
    torch.save(s.state_dict(), buf)
    buf.seek(0)
    with torch.no_grad():  # training moved the model on since the epoch began
        for p in model.parameters():
            p.add_(1.0)
    fresh = TuplesToWeightsSampler(model, miner, ds, dataloader_num_workers=0, seed=5)
    fresh.load_state_dict(torch.load(buf, weights_only=True))
    assert head + take(fresh, 19) == whole


def test_tuples_to_weights_errors():
    ds, model, _, _ = _weights_setup()
    with pytest.raises(TypeError, match="unexpected tester_kwargs"):
        TuplesToWeightsSampler(model, miners.BatchHardMiner(), ds, bogus=1)
    with pytest.raises(TypeError, match="callable"):
        TuplesToWeightsSampler(model, "miner", ds)
    with pytest.raises(ValueError, match="subset_size must be >= 1"):
        TuplesToWeightsSampler(model, miners.BatchHardMiner(), ds, 0)
