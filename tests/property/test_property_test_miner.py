"""``agnostic_ml.testing.property_test_miner``: every check catches a deliberately broken miner
with a readable minimal example, and every miner we ship passes.

Each broken miner below has one bug. The test asserts which check failed, which rule,
that hypothesis shrank the batch to a small one, that the report shows the batch, the
offending tuples and the distances involved, and (for the bugs visible on NumPy) that the
reproduction snippet in the message, run as printed, raises the same error.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from agnostic_ml._array_api import namespace_and_device, to_numpy
from agnostic_ml.cli import available_miners
from agnostic_ml.distances import LpDistance
from agnostic_ml.miners import (
    BaseMiner,
    HardTripletsMiner,
    MinerWithBank,
    NHardTripletsMiner,
    PairMarginMiner,
    TripletMarginMiner,
    TripletMinerWithMemory,
)
from agnostic_ml.testing import (
    InvariantViolation,
    MinerPropertyError,
    MinerPropertyReport,
    property_test_miner,
)
from agnostic_ml.testing.backends import BackendUnavailable, available_backends
from agnostic_ml.tuples import get_all_pairs_indices

pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.NonInteractiveExampleWarning")

ALL_HERE = [b.name for b in available_backends()]  # every backend of this machine, strictest included


def _ints(xp, device, rows):
    arr = np.asarray(rows, dtype=np.int64).reshape(-1, len(rows[0]) if rows else 3)
    return tuple(xp.asarray(arr[:, j].copy(), dtype=xp.int64, device=device) for j in range(arr.shape[1]))


# -- broken miners: one bug each ------------------------------------------------------------


class SelfPairMiner(BaseMiner):
    """Bug: keeps i == j among the positive pairs when there is no reference set."""

    def mine(self, embeddings, labels, ref_emb, ref_labels):
        xp, device = namespace_and_device(embeddings)
        same = labels[:, None] == ref_labels[None, :]
        a1, p = xp.nonzero(same)
        a2, n = xp.nonzero(xp.logical_not(same))
        return a1, p, a2, n


class IgnoresRefLabels(BaseMiner):
    """Bug: compares against the batch labels even when a reference set is given."""

    def mine(self, embeddings, labels, ref_emb, ref_labels):
        m = min(labels.shape[0], ref_labels.shape[0])
        return get_all_pairs_indices(labels[:m], like=embeddings)


class HardestOfAll(BaseMiner):
    """Bug: the 'hardest negative' is searched over every column, the anchor's own class included."""

    def mine(self, embeddings, labels, ref_emb, ref_labels):
        xp, device = namespace_and_device(embeddings)
        d = to_numpy(self.distance(embeddings, ref_emb))
        lab, rlab = to_numpy(labels), to_numpy(ref_labels)
        self_ref = ref_labels is labels
        rows = []
        for i in range(d.shape[0]):
            pos = [j for j in range(d.shape[1]) if rlab[j] == lab[i] and not (self_ref and j == i)]
            others = [j for j in range(d.shape[1]) if not (self_ref and j == i)]
            if pos and len(others) > len(pos):
                rows.append((i, pos[0], min(others, key=lambda j: d[i, j])))
        return _ints(xp, device, rows)


class RepeatsTriplets(TripletMarginMiner):
    """Bug: returns every triplet twice."""

    def mine(self, embeddings, labels, ref_emb, ref_labels):
        xp, _ = namespace_and_device(embeddings)
        a, p, n = super().mine(embeddings, labels, ref_emb, ref_labels)
        return xp.concat([a, a]), xp.concat([p, p]), xp.concat([n, n])


class OffByOne(BaseMiner):
    """Bug: negatives index one row past the one meant."""

    def mine(self, embeddings, labels, ref_emb, ref_labels):
        a1, p, a2, n = get_all_pairs_indices(labels, None if ref_labels is labels else ref_labels, like=embeddings)
        return a1, p, a2, n + 1


def numpy_only_miner(embeddings, labels, ref_emb=None, ref_labels=None):
    """Bug (a plain function miner): always returns NumPy arrays, whatever the input backend."""
    lab = np.asarray(to_numpy(labels))
    rlab = lab if ref_labels is None else np.asarray(to_numpy(ref_labels))
    return get_all_pairs_indices(lab, None if ref_labels is None else rlab)


class ClosePairs(BaseMiner):
    """Pairs closer than ``margin``: mined with ``<=`` although its documented rule is ``<``."""

    def __init__(self, margin=0.5, **kw):
        super().__init__(distance=LpDistance(normalize_embeddings=False), **kw)
        self.margin = margin

    def mine(self, embeddings, labels, ref_emb, ref_labels):
        xp, device = namespace_and_device(embeddings)
        d = self.distance(embeddings, ref_emb)
        same = labels[:, None] == ref_labels[None, :]
        if ref_labels is labels:
            same = xp.logical_and(same, xp.logical_not(xp.eye(labels.shape[0], dtype=xp.bool, device=device)))
        diff = labels[:, None] != ref_labels[None, :]
        a1, p = xp.nonzero(xp.logical_and(same, d <= self.margin))
        a2, n = xp.nonzero(xp.logical_and(diff, d <= self.margin))
        return a1, p, a2, n


def close_rule(margin):
    return lambda mat, t: (mat[t[0], t[1]] < margin, mat[t[2], t[3]] < margin)


class Unseeded(BaseMiner):
    """Bug: draws from a fresh unseeded generator instead of ``self.rng``."""

    def __init__(self, rng=None, **kw):
        super().__init__(**kw)
        self.rng = np.random.default_rng(rng)

    def mine(self, embeddings, labels, ref_emb, ref_labels):
        xp, device = namespace_and_device(embeddings)
        lab, rlab = to_numpy(labels), to_numpy(ref_labels)
        self_ref = ref_labels is labels
        wild = np.random.default_rng()
        rows = []
        for i in range(lab.shape[0]):
            pos = [j for j in range(rlab.shape[0]) if rlab[j] == lab[i] and not (self_ref and j == i)]
            neg = [j for j in range(rlab.shape[0]) if rlab[j] != lab[i]]
            if pos and neg:
                rows.append((i, pos[int(wild.integers(len(pos)))], neg[int(wild.integers(len(neg)))]))
        return _ints(xp, device, rows)


class TorchDropsOne(PairMarginMiner):
    """Bug: on torch, the last negative pair is dropped."""

    def mine(self, embeddings, labels, ref_emb, ref_labels):
        a1, p, a2, n = super().mine(embeddings, labels, ref_emb, ref_labels)
        if "torch" in type(embeddings).__module__:
            a2, n = a2[:-1], n[:-1]
        return a1, p, a2, n


class CrashesOnSingletons(BaseMiner):
    """Bug: an IndexError when a batch has a single row."""

    def mine(self, embeddings, labels, ref_emb, ref_labels):
        if embeddings.shape[0] == 1:
            return [][0]
        return get_all_pairs_indices(labels, None if ref_labels is labels else ref_labels, like=embeddings)


class RejectsEverything(BaseMiner):
    def mine(self, embeddings, labels, ref_emb, ref_labels):
        raise ValueError("this miner accepts nothing")


BROKEN = [
    # miner, kwargs, expected check, expected rule(s)
    pytest.param(SelfPairMiner, {}, "contract", {"self pair"}, id="self-pairs"),
    pytest.param(IgnoresRefLabels, {"with_ref": True}, "contract_ref", {"positive label", "negative label", "range"},
                 id="ignores-ref-labels"),
    pytest.param(HardestOfAll, {"with_ref": False}, "contract", {"negative label"}, id="negative-of-own-class"),
    pytest.param(RepeatsTriplets, {}, "contract", {"duplicate"}, id="duplicates"),
    pytest.param(OffByOne, {}, "contract", {"range", "negative label", "self pair"}, id="out-of-range"),
    pytest.param(lambda: ClosePairs(0.5), {"selection_rule": close_rule(0.5), "with_ref": False},
                 "selection_rule", {"selection rule"}, id="selection-rule"),
    pytest.param(Unseeded, {}, "deterministic", {"deterministic"}, id="ignores-its-seed"),
    pytest.param(CrashesOnSingletons, {}, "errors", {"crash"}, id="crash"),
]


@pytest.mark.parametrize("miner, kwargs, check, rules", BROKEN)
def test_each_check_catches_its_broken_miner_with_a_minimal_readable_example(miner, kwargs, check, rules):
    with pytest.raises(MinerPropertyError) as info:
        property_test_miner(miner, backends=["numpy"], max_examples=300, **kwargs)
    err = info.value
    text = str(err)
    assert err.check == check and err.rule in rules, text
    assert err.backend == "numpy"
    assert isinstance(err, AssertionError) and isinstance(err.report, MinerPropertyReport)
    assert err.report.failure is err
    # shrunk: a handful of rows is enough to show each of these bugs
    assert err.batch is not None and err.batch.n <= 4, text
    if err.batch.has_ref:
        assert err.batch.ref_emb.shape[0] <= 4, text
    # readable: the rule, the batch, the distances involved, the output and how to reproduce
    assert f"check '{check}'" in text and "minimal failing batch found by hypothesis" in text
    assert "embeddings = [" in text and "labels = [" in text
    assert "miner output on numpy:" in text or err.rule == "crash"
    assert "reproduce:" in text and "check_miner(miner, embeddings, labels" in text
    if err.rule not in {"crash", "deterministic"}:
        assert re.search(r"distances on numpy: LpDistance \(smaller is closer\)\n    \w+=\d+, \w+=\d+.*: mat\[", text), text
    assert "Traceback" not in text and "Falsifying example" not in text
    assert not getattr(err, "__notes__", None)  # hypothesis's own repr of the batch is not appended
    if check != "deterministic":  # the snippet, run as printed, fails the same way
        _run_reproduction(text, kwargs.get("selection_rule"), IndexError if check == "errors" else InvariantViolation)


def _run_reproduction(text, selection_rule, expected):
    snippet = text.split("  reproduce:\n", 1)[1]
    code = "\n".join(line[4:] for line in snippet.splitlines())
    scope = {cls.__name__: cls for cls in (SelfPairMiner, IgnoresRefLabels, HardestOfAll, RepeatsTriplets,
                                           OffByOne, ClosePairs, CrashesOnSingletons)}
    scope["selection_rule"] = selection_rule
    with pytest.raises(expected):
        exec(compile(code, "<reproduce>", "exec"), scope)


def test_selection_rule_failure_shows_the_tied_distance():
    """``<=`` instead of ``<``: hypothesis finds an exact tie at the margin (grid data) and the report shows it."""
    with pytest.raises(MinerPropertyError) as info:
        property_test_miner(lambda: ClosePairs(0.5), backends=["numpy"], selection_rule=close_rule(0.5),
                            with_ref=False, max_examples=300)
    text = str(info.value)
    assert re.search(r"the miner's condition fails for \d+ of \d+ (positive|negative) pair\(s\); first: #0 \(\d+, \d+\) with mat=0\.5$", text, re.M), text
    assert re.search(r"mat\[a[12], [pn]\] = 0\.5\b", text), text


def test_backend_difference_is_caught_on_identical_distances():
    pytest.importorskip("torch")
    with pytest.raises(MinerPropertyError) as info:
        property_test_miner(lambda: TorchDropsOne(distance=LpDistance(normalize_embeddings=False)),
                            backends=["numpy", "torch"], max_examples=200)
    err = info.value
    text = str(err)
    assert err.check == "backends" and err.backend == "torch", text
    assert "negative pairs differ between numpy" in text and "only in numpy: [(" in text
    assert "distance matrices of numpy and torch are identical" in text
    assert "distances on numpy" in text and "distances on torch" in text
    assert err.batch.n <= 3, text


def test_wrong_namespace_is_caught_on_the_other_backend():
    pytest.importorskip("torch")
    with pytest.raises(MinerPropertyError) as info:
        property_test_miner(numpy_only_miner, backends=["numpy", "torch"], max_examples=100)
    err = info.value
    assert (err.check, err.rule, err.backend) == ("contract", "namespace", "torch"), str(err)
    assert "output a1 is a numpy.ndarray" in str(err)
    assert "distances not shown: the miner has no usable .distance" in str(err)


def test_a_miner_that_rejects_every_batch_fails_instead_of_passing_vacuously():
    with pytest.raises(MinerPropertyError, match=r"rejected every one of the 20 batches .* nothing was checked; "
                                                 r"first rejection: ValueError: this miner accepts nothing"):
        property_test_miner(RejectsEverything, backends=["numpy"], max_examples=20)


# -- correct miners pass -----------------------------------------------------------------------


def _shipped():
    skip = {"EmbeddingsAlreadyPackagedAsTriplets": "returns the fixed layout (0, 1, 2), (3, 4, 5), ... whatever "
                                                    "the labels: it only obeys the contract on pre-packaged batches"}
    special = {
        "MinerWithBank": (lambda: MinerWithBank(1, NHardTripletsMiner()), {"calls": 3}),
        "TripletMinerWithMemory": (lambda: TripletMinerWithMemory(bank_size_in_batches=2, tri_expand_k=2),
                                   {"calls": 3}),
    }
    out = []
    for name, cls in available_miners().items():
        marks = [pytest.mark.skip(reason=skip[name])] if name in skip else []
        factory, kw = special.get(name, (cls, {}))
        out.append(pytest.param(factory, kw, id=name, marks=marks))
    return out


@pytest.mark.parametrize("factory, kwargs", _shipped())
def test_every_shipped_miner_passes_on_every_backend(factory, kwargs):
    report = property_test_miner(factory, backends=ALL_HERE, max_examples=15, **kwargs)
    assert report.failure is None and report.examples == 15
    assert report.backends == ALL_HERE
    assert report.passed["contract"] > 0 and report.passed["deterministic"] > 0
    if len(ALL_HERE) > 1:
        assert report.passed["backends"] > 0
    assert "FAIL" not in report.summary()


def test_shipped_miners_pass_their_own_selection_rules():
    def pair_margin_rule(pos_margin, neg_margin):
        return lambda d, t: (d[t[0], t[1]] > pos_margin, d[t[2], t[3]] < neg_margin)

    def semihard_rule(margin):
        def rule(d, t):
            ap, an = d[t[0], t[1]], d[t[0], t[2]]
            return (an > ap) & (an - ap <= d.dtype.type(margin))

        return rule

    exact = LpDistance(normalize_embeddings=False)
    r = property_test_miner(lambda: PairMarginMiner(0.5, 1.0, distance=exact), selection_rule=pair_margin_rule(0.5, 1.0),
                            max_examples=30)
    assert r.passed["selection_rule"] > 0
    r = property_test_miner(lambda: TripletMarginMiner(0.3, type_of_triplets="semihard", distance=exact),
                            selection_rule=semihard_rule(0.3), max_examples=30)
    assert r.passed["selection_rule"] > 0


def test_instances_functions_and_names():
    # an instance is deep-copied for every call: its state never changes
    miner = HardTripletsMiner()
    report = property_test_miner(miner, backends=["numpy"], max_examples=10)
    assert report.miner == "HardTripletsMiner()"
    # a plain function miner (correct on NumPy)
    def all_pairs(embeddings, labels, ref_emb=None, ref_labels=None):
        return get_all_pairs_indices(labels, ref_labels, like=embeddings)

    report = property_test_miner(all_pairs, backends=["numpy"], max_examples=10, name="all_pairs")
    assert report.miner == "all_pairs" and report.passed["contract"] > 0


def test_random_miners_are_detected_and_seeded():
    from agnostic_ml.miners import DistanceWeightedMiner

    report = property_test_miner(DistanceWeightedMiner, backends=["numpy"], max_examples=10)
    assert report.random and report.allow_duplicates
    report = property_test_miner(DistanceWeightedMiner, backends=["numpy"], max_examples=10, random=False,
                                 allow_duplicates=True)
    assert not report.random


def test_summary_reads_well():
    report = property_test_miner(PairMarginMiner, backends=["numpy"], max_examples=10)
    text = report.summary()
    assert text.splitlines()[0].startswith("PairMarginMiner(") and "10 hypothesis batches on numpy" in text
    assert "valid tuples, no reference set" in text and "pass" in text
    assert "same tuples on every backend" in text and "one backend only" in text
    assert re.search(r"batches: \d+ with a reference set, \d+ one class, \d+ all labels distinct, \d+ N <= 1", text)


def test_argument_errors():
    with pytest.raises(ValueError, match="unknown backend 'tpu'; known backends: numpy"):
        property_test_miner(PairMarginMiner, backends="numpy,tpu")
    with pytest.raises(ValueError, match="max_examples must be a positive int, got 0"):
        property_test_miner(PairMarginMiner, max_examples=0)
    with pytest.raises(ValueError, match="calls must be a positive int"):
        property_test_miner(PairMarginMiner, calls=0)
    with pytest.raises(TypeError, match="selection_rule must be callable"):
        property_test_miner(PairMarginMiner, selection_rule=0.5)
    with pytest.raises(ValueError, match="dtypes must be a non-empty sequence"):
        property_test_miner(PairMarginMiner, dtypes="float32")


def test_a_named_backend_that_is_missing_raises():
    unavailable = [n for n in ("torch_cuda", "cupy") if n not in ALL_HERE]
    if not unavailable:
        pytest.skip("every GPU backend is available here")
    with pytest.raises(BackendUnavailable, match=f"backend {unavailable[0]} unavailable"):
        property_test_miner(PairMarginMiner, backends=[unavailable[0]])


def test_a_failure_hypothesis_cannot_reproduce_is_still_reported_as_the_kits_error():
    """An unseeded miner may fail once and pass when hypothesis replays the batch (FlakyFailure):
    the kit still raises its own error, with a note saying the output varied between calls."""
    from hypothesis import given, settings, strategies as st

    from agnostic_ml.testing._hypothesis_run import FLAKY_NOTE, run_for_failure

    class KitError(AssertionError):
        pass

    calls = []

    @settings(max_examples=5, database=None, derandomize=True)
    @given(st.integers(0, 3))
    def fails_once(x):
        calls.append(x)
        if len(calls) == 1:
            raise KitError("two runs with rng seed 0 returned different tuples")

    exc = run_for_failure(fails_once, KitError)
    assert isinstance(exc, KitError)
    assert "different tuples" in str(exc) and FLAKY_NOTE in str(exc)
    assert run_for_failure(lambda: None, KitError) is None
