"""What the bad-input catalogue cannot say with one exception: state left unchanged, opt-outs, budgets.

- a batch refused for a non-finite row leaves a memory (CrossBatchMemory's queue, a miner's
  bank) exactly as it was;
- ``check_finite=False`` works per object (constructor argument or attribute) and per call
  (the functions' argument), and the default is True everywhere;
- the output budget refuses *before* allocating (the issue's 2e9-triplet example stays
  within a few MB of Python allocations), is configurable per call and per object, None
  turns it off, and ``max_output_triplets`` is the way out for ``AllTripletsMiner``;
- :class:`agnostic_ml.OutputTooLargeError` is both a ``ValueError`` and a ``MemoryError``.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import agnostic_ml
from agnostic_ml import DEFAULT_OUTPUT_BUDGET, OutputTooLargeError
from agnostic_ml import tuples as T
from agnostic_ml.accuracy import ExactKNN, KMeans, kmeans, knn
from agnostic_ml.losses import ContrastiveLoss, CrossBatchMemory, TripletMarginLoss
from agnostic_ml.miners import AllTripletsMiner, BaseMiner, BatchHardMiner, MinerWithBank, NHardTripletsMiner, TripletMarginMiner
from agnostic_ml.regularizers import LpRegularizer

# The opt-out cases feed NaN to NumPy arithmetic on purpose.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")
LAB = [0, 0, 1, 1, 2, 2, 3, 3]


def _emb(backend, n=8, d=4, nan_row=None, seed=0):
    x = np.random.default_rng(seed).standard_normal((n, d))
    if nan_row is not None:
        x[nan_row, 0] = np.nan
    return backend.asarray(x, backend.xp.float64)


# -- a refused batch changes nothing ---------------------------------------------------------------


def test_cross_batch_memory_queue_is_unchanged_by_a_refused_batch(backend):
    xbm = CrossBatchMemory(ContrastiveLoss(), 4, memory_size=32)
    xbm(_emb(backend), LAB)
    before = backend.to_numpy(xbm.embedding_memory).copy(), backend.to_numpy(xbm.label_memory).copy(), xbm.queue_idx
    with pytest.raises(ValueError, match="CrossBatchMemory: embeddings row 5 contains NaN"):
        xbm(_emb(backend, nan_row=5, seed=1), LAB)
    after = backend.to_numpy(xbm.embedding_memory), backend.to_numpy(xbm.label_memory), xbm.queue_idx
    np.testing.assert_array_equal(before[0], after[0])
    np.testing.assert_array_equal(before[1], after[1])
    assert before[2] == after[2]


def test_miner_bank_is_unchanged_by_a_refused_batch(backend):
    miner = MinerWithBank(2, NHardTripletsMiner(2, 2))
    miner(_emb(backend), LAB)
    before = backend.to_numpy(miner.bank_embeddings).copy()
    with pytest.raises(ValueError, match="MinerWithBank: embeddings row 0 contains NaN"):
        miner(_emb(backend, nan_row=0, seed=2), LAB)
    np.testing.assert_array_equal(before, backend.to_numpy(miner.bank_embeddings))


# -- the opt-out ----------------------------------------------------------------------------------------


def test_check_finite_defaults_to_true_everywhere():
    assert BaseMiner.check_finite is True and BatchHardMiner().check_finite is True
    assert TripletMarginLoss().check_finite is True and LpRegularizer().check_finite is True
    assert ExactKNN().check_finite is True and KMeans().check_finite is True


def test_check_finite_false_per_object_and_per_call(backend):
    bad = _emb(backend, nan_row=2)
    miner = BatchHardMiner()
    miner.check_finite = False  # every miner has the attribute, whatever its constructor takes
    assert len(miner(bad, LAB)) == 3

    class MyMiner(BaseMiner):
        def __init__(self):
            super().__init__(check_finite=False)

        def mine(self, embeddings, labels, ref_emb, ref_labels):
            return T.get_all_triplets_indices(labels, like=embeddings)

    assert MyMiner().check_finite is False and MyMiner()(bad, LAB)[0].shape[0] == 48
    TripletMarginLoss(check_finite=False)(bad, LAB)  # a NaN loss, but no error: the caller opted out
    LpRegularizer(check_finite=False)(bad)
    d, i = knn(bad, bad, 2, check_finite=False)
    assert tuple(i.shape) == (8, 2)
    ExactKNN(check_finite=False)(bad, 2, bad, True)
    kmeans(_emb(backend), 2, rng=0, check_finite=False)  # finite input: same as the default
    with pytest.raises(ValueError, match="row 2 contains NaN"):
        kmeans(bad, 2, rng=0)


def test_check_finite_must_be_a_bool():
    for make in (lambda: BaseMiner(check_finite=1), lambda: ContrastiveLoss(check_finite="no"),
                 lambda: LpRegularizer(check_finite=None), lambda: ExactKNN(check_finite=0)):
        with pytest.raises(TypeError, match="check_finite must be a bool"):
            make()


def test_a_large_finite_sum_is_not_mistaken_for_a_non_finite_value(backend):
    """The fast test (a finite sum) may overflow on large finite values: the exact test decides."""
    big = backend.asarray(np.full((64, 4), 3e38), backend.xp.float32)  # the float32 sum overflows to inf
    d, _ = knn(big, big, 1, ref_includes_query=True)  # no error: every value is finite
    assert tuple(d.shape) == (64, 1)


# -- output budgets ---------------------------------------------------------------------------------------


def test_output_too_large_error_is_a_value_error_and_a_memory_error():
    assert issubclass(OutputTooLargeError, ValueError) and issubclass(OutputTooLargeError, MemoryError)
    assert agnostic_ml.DEFAULT_OUTPUT_BUDGET == 2**28 == T.DEFAULT_OUTPUT_BUDGET


@pytest.mark.parametrize(
    "call",
    [
        lambda lab, x: T.get_all_triplets_indices(lab),
        lambda lab, x: AllTripletsMiner()(x, lab),
        lambda lab, x: TripletMarginLoss(smooth_loss=True)(x, lab),
    ],
    ids=["get_all_triplets_indices", "AllTripletsMiner", "TripletMarginLoss"],
)
def test_the_issue_example_is_refused_before_allocating(call):
    """2000 rows of two classes: 2e9 triplets (48 GB) are refused with O(N^2) bools of work."""
    lab = np.arange(2000) % 2
    x = np.zeros((2000, 2))
    tracemalloc.start()
    try:
        with pytest.raises(OutputTooLargeError, match="1,998,000,000 triplets"):
            call(lab, x)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * 2**20, f"{peak / 2**20:.0f} MiB allocated before refusing"


def test_budgets_are_configurable_and_none_turns_them_off(backend):
    lab = backend.asarray(np.asarray(LAB), backend.xp.int64)
    x = _emb(backend)
    assert T.get_all_triplets_indices(lab, output_budget=48)[0].shape[0] == 48
    with pytest.raises(OutputTooLargeError, match="more than output_budget=47"):
        T.get_all_triplets_indices(lab, output_budget=47)
    assert T.get_all_triplets_indices(lab, output_budget=None)[0].shape[0] == 48
    assert TripletMarginMiner(margin=5.0, output_budget=48)(x, lab)[0].shape[0] == 48
    assert TripletMarginMiner(margin=5.0, output_budget=None)(x, lab)[0].shape[0] == 48
    assert AllTripletsMiner(output_budget=None)(x, lab)[0].shape[0] == 48
    loss = TripletMarginLoss(swap=True, output_budget=47)
    with pytest.raises(OutputTooLargeError):
        loss(x, lab)
    loss.output_budget = None  # a plain attribute, as PML's settings
    loss(x, lab)
    assert knn(x, x, 8, output_budget=64)[1].shape == (8, 8)


def test_max_output_triplets_is_the_way_out_for_all_triplets_miner():
    lab = np.arange(2000) % 2
    a, p, n = AllTripletsMiner(max_output_triplets=1000, rng=0)(np.zeros((2000, 2)), lab)
    assert a.shape[0] == 1000 and np.all(lab[a] == lab[p]) and np.all(lab[a] != lab[n])
    assert DEFAULT_OUTPUT_BUDGET > 1000
