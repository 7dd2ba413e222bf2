"""agnostic_ml.reducers on every backend: values against NumPy formulas, zero losses, errors."""

from __future__ import annotations

import numpy as np
import pytest

from agnostic_ml import reducers as R
from helpers import assert_array, tol

B = 6
RNG = np.random.default_rng(0)
LOSSES = np.array([0.0, 0.7, 1.3, 0.0, 2.5, 0.2, 3.1, 0.9])
A = np.array([0, 0, 1, 2, 2, 2, 4, 5])
P = np.array([1, 3, 4, 0, 5, 1, 8, 7])  # reference indices can exceed the batch size
N = np.array([2, 2, 0, 3, 3, 4, 1, 0])
LABELS = np.array([0, 1, 0, 2, 1, 2])
EMB = RNG.normal(size=(B, 3))
TYPES = ["element", "pos_pair", "neg_pair", "triplet"]


def _indices(rtype, backend):
    if rtype == "element":
        return backend.asarray(A)
    if rtype == "triplet":
        return tuple(backend.asarray(x) for x in (A, P, N))
    return backend.asarray(A), backend.asarray(P)


def _dict(rtype, backend, dtype, losses=LOSSES, **extra):
    lo = backend.asarray(losses, dtype) if isinstance(losses, np.ndarray) else losses
    return {"loss": {"losses": lo, "indices": _indices(rtype, backend), "reduction_type": rtype, **extra}}


def _run(reducer, rtype, backend, dtype, **extra):
    emb = backend.asarray(EMB, dtype)
    out = reducer(_dict(rtype, backend, dtype, **extra), emb, backend.asarray(LABELS))
    assert_array(out, backend, dtype=dtype, shape=())
    return float(backend.to_numpy(out))


def _per_anchor_mean(losses=LOSSES, anchors=A, b=B):
    sums = np.bincount(anchors, losses, minlength=b)
    counts = np.bincount(anchors, minlength=b)
    return np.where(counts > 0, sums / np.maximum(counts, 1), 0.0)


EXPECTED = {
    "mean": lambda rt: LOSSES.mean(),
    "sum": lambda rt: LOSSES.sum(),
    "avg_non_zero": lambda rt: LOSSES[LOSSES > 0].mean(),
    "threshold_low_high": lambda rt: LOSSES[(LOSSES > 0.5) & (LOSSES < 3)].mean(),
    "threshold_high": lambda rt: LOSSES[LOSSES < 1].mean(),
    "divisor": lambda rt: LOSSES.sum() / 4.0,
    "class_weighted": lambda rt: np.mean(LOSSES * np.array([0.5, 2.0, 1.5])[LABELS[A]]),
    "per_anchor": lambda rt: LOSSES.mean() if rt == "element" else _per_anchor_mean().mean(),
    "per_anchor_sum": lambda rt: LOSSES.sum() if rt == "element" else _per_anchor_mean().sum(),
}


def _make(name):
    return {
        "mean": R.MeanReducer,
        "sum": R.SumReducer,
        "avg_non_zero": R.AvgNonZeroReducer,
        "threshold_low_high": lambda: R.ThresholdReducer(low=0.5, high=3),
        "threshold_high": lambda: R.ThresholdReducer(high=1),
        "divisor": R.DivisorReducer,
        "class_weighted": lambda: R.ClassWeightedReducer([0.5, 2.0, 1.5]),
        "per_anchor": R.PerAnchorReducer,
        "per_anchor_sum": lambda: R.PerAnchorReducer(reducer=R.SumReducer()),
    }[name]()


@pytest.mark.parametrize("rtype", TYPES)
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_reducer_values(backend, dtype, name, rtype):
    extra = {"divisor": 4} if name == "divisor" else {}
    got = _run(_make(name), rtype, backend, dtype, **extra)
    np.testing.assert_allclose(got, EXPECTED[name](rtype), **tol(dtype, backend.xp))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_zero_loss_keeps_embeddings_dtype(backend, dtype, name):
    emb = backend.asarray(EMB, dtype)
    extra = {"divisor": 4} if name == "divisor" else {}
    for rtype in TYPES + ["already_reduced"]:
        d = {"l": {"losses": 0, "indices": None, "reduction_type": rtype, **extra}}
        out = _make(name)(d, emb, backend.asarray(LABELS))
        assert_array(out, backend, dtype=dtype, shape=())
        assert float(backend.to_numpy(out)) == 0.0


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_empty_losses_give_zero_not_nan(backend, dtype, name):
    emb = backend.asarray(EMB, dtype)
    empty_idx = backend.asarray(np.zeros(0, dtype=np.int64))
    extra = {"divisor": 4} if name == "divisor" else {}
    for rtype, idx in (("element", empty_idx), ("pos_pair", (empty_idx, empty_idx)), ("triplet", (empty_idx,) * 3)):
        d = {"l": {"losses": backend.asarray(np.zeros(0), dtype), "indices": idx, "reduction_type": rtype, **extra}}
        out = _make(name)(d, emb, backend.asarray(LABELS))
        assert_array(out, backend, shape=())
        assert float(backend.to_numpy(out)) == 0.0


@pytest.mark.parametrize("shape", [(), (1,)])
def test_already_reduced(backend, dtype, shape):
    emb = backend.asarray(EMB, dtype)
    for name in sorted(EXPECTED):
        d = {"l": {"losses": backend.asarray(np.full(shape, 1.25), dtype), "indices": None, "reduction_type": "already_reduced"}}
        out = _make(name)(d, emb, backend.asarray(LABELS))
        assert_array(out, backend, dtype=dtype, shape=())
        assert float(backend.to_numpy(out)) == 1.25


def test_threshold_nothing_kept_and_stats(backend, dtype):
    r = R.ThresholdReducer(low=10, high=20, collect_stats=True)
    assert _run(r, "element", backend, dtype) == 0.0
    assert int(backend.to_numpy(r.stats["num_past_filter"])) == 0
    r2 = R.ThresholdReducer(low=0.5, high=3, collect_stats=True)
    _run(r2, "triplet", backend, dtype)
    assert int(backend.to_numpy(r2.num_past_filter)) == 4
    assert int(backend.to_numpy(r2.num_above_low)) == 5
    assert int(backend.to_numpy(r2.num_below_high)) == 4  # among those above low; PML names it num_above_high
    assert r2.losses_size == len(LOSSES)


def test_divisor_zero_and_array(backend, dtype):
    assert _run(R.DivisorReducer(), "pos_pair", backend, dtype, divisor=0) == 0.0
    div = backend.asarray(np.array(2.0), dtype)
    got = _run(R.DivisorReducer(collect_stats=True), "triplet", backend, dtype, divisor=div)
    np.testing.assert_allclose(got, LOSSES.sum() / 2, **tol(dtype, backend.xp))
    assert _run(R.DivisorReducer(), "element", backend, dtype, divisor=backend.asarray(np.array(0.0), dtype)) == 0.0


def test_class_weighted_host_inputs(backend, dtype):
    r = R.ClassWeightedReducer(np.array([0.5, 2.0, 1.5]))
    emb = backend.asarray(EMB, dtype)
    out = r(_dict("neg_pair", backend, dtype), emb, LABELS.tolist())
    assert_array(out, backend, dtype=dtype, shape=())
    np.testing.assert_allclose(float(backend.to_numpy(out)), EXPECTED["class_weighted"]("neg_pair"), **tol(dtype, backend.xp))


def test_per_anchor_with_larger_reference_and_custom_aggregation(backend, dtype):
    # P indexes a reference set of 9 rows while the batch has 6 (PML raises IndexError here)
    def agg_sum(sums, counts):
        return sums

    r = R.PerAnchorReducer(reducer=R.MeanReducer(), aggregation_func=agg_sum)
    got = _run(r, "pos_pair", backend, dtype)
    np.testing.assert_allclose(got, np.bincount(A, LOSSES, minlength=B).mean(), **tol(dtype, backend.xp))


def test_per_anchor_inner_class_weighted(backend, dtype):
    w = [0.5, 2.0, 1.5]
    r = R.PerAnchorReducer(reducer=R.ClassWeightedReducer(w))
    got = _run(r, "neg_pair", backend, dtype)
    np.testing.assert_allclose(got, np.mean(_per_anchor_mean() * np.array(w)[LABELS]), **tol(dtype, backend.xp))


def test_multiple_reducers(backend, dtype):
    emb = backend.asarray(EMB, dtype)
    d = {
        "pos": _dict("pos_pair", backend, dtype)["loss"],
        "neg": _dict("neg_pair", backend, dtype, losses=LOSSES * 2)["loss"],
        "reg": {"losses": backend.asarray(np.array(0.5), dtype), "indices": None, "reduction_type": "already_reduced"},
        "none": {"losses": 0, "indices": None, "reduction_type": "element"},
    }
    r = R.MultipleReducers({"pos": R.SumReducer()}, default_reducer=R.AvgNonZeroReducer())
    out = r(d, emb, backend.asarray(LABELS))
    assert_array(out, backend, dtype=dtype, shape=())
    expected = LOSSES.sum() + (2 * LOSSES)[LOSSES > 0].mean() + 0.5
    np.testing.assert_allclose(float(backend.to_numpy(out)), expected, **tol(dtype, backend.xp))
    assert float(backend.to_numpy(R.MultipleReducers({})({}, emb, None))) == 0.0


def test_do_nothing(backend, dtype):
    d = _dict("element", backend, dtype)
    assert R.DoNothingReducer()(d, backend.asarray(EMB, dtype), None) is d


def test_stats_off_by_default(backend, dtype):
    r = R.ThresholdReducer(low=0)
    _run(r, "element", backend, dtype)
    assert r.stats == {}
    with pytest.raises(AttributeError):
        r.num_past_filter  # noqa: B018


# -- bad input (one test each) ---------------------------------------------------------------------
def test_unknown_reduction_type(backend):
    with pytest.raises(ValueError, match="'quadruplet'"):
        R.MeanReducer()({"l": {"losses": backend.asarray(LOSSES), "indices": None, "reduction_type": "quadruplet"}}, backend.asarray(EMB), None)


def test_element_length_mismatch(backend):
    d = {"l": {"losses": backend.asarray(LOSSES), "indices": backend.asarray(A[:3]), "reduction_type": "element"}}
    with pytest.raises(ValueError, match="length"):
        R.MeanReducer()(d, backend.asarray(EMB), None)


def test_pair_length_mismatch(backend):
    d = {"l": {"losses": backend.asarray(LOSSES), "indices": (backend.asarray(A), backend.asarray(P[:2])), "reduction_type": "pos_pair"}}
    with pytest.raises(ValueError, match="lengths"):
        R.SumReducer()(d, backend.asarray(EMB), None)


def test_triplet_needs_three_arrays(backend):
    d = {"l": {"losses": backend.asarray(LOSSES), "indices": (backend.asarray(A), backend.asarray(P)), "reduction_type": "triplet"}}
    with pytest.raises(ValueError, match="tuple of 3"):
        R.MeanReducer()(d, backend.asarray(EMB), None)


def test_already_reduced_not_scalar(backend):
    d = {"l": {"losses": backend.asarray(LOSSES), "indices": None, "reduction_type": "already_reduced"}}
    with pytest.raises(ValueError, match="already_reduced"):
        R.MeanReducer()(d, backend.asarray(EMB), None)


def test_losses_not_1d(backend):
    d = {"l": {"losses": backend.asarray(np.ones((2, 2))), "indices": backend.asarray(A[:2]), "reduction_type": "element"}}
    with pytest.raises(ValueError, match="1-D"):
        R.MeanReducer()(d, backend.asarray(EMB), None)


def test_two_losses_need_multiple_reducers(backend):
    one = _dict("element", backend, backend.xp.float64)["loss"]
    with pytest.raises(ValueError, match="MultipleReducers"):
        R.MeanReducer()({"a": one, "b": one}, backend.asarray(EMB), None)


def test_missing_key():
    with pytest.raises(ValueError, match="reduction_type"):
        R.MeanReducer()({"l": {"losses": LOSSES, "indices": A}}, EMB, None)


def test_missing_divisor():
    with pytest.raises(ValueError, match="divisor"):
        R.DivisorReducer()({"l": {"losses": LOSSES, "indices": A, "reduction_type": "element"}}, EMB, None)


def test_losses_not_array():
    with pytest.raises(TypeError, match="losses must be an array"):
        R.MeanReducer()({"l": {"losses": 1.5, "indices": None, "reduction_type": "already_reduced"}}, EMB, None)


def test_threshold_needs_a_bound():
    with pytest.raises(ValueError, match="at least one of low or high"):
        R.ThresholdReducer()


def test_class_weighted_needs_labels():
    with pytest.raises(TypeError, match="labels"):
        R.ClassWeightedReducer([1.0])({"l": {"losses": LOSSES, "indices": A, "reduction_type": "element"}}, EMB, None)


def test_mixed_libraries():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError):
        R.MeanReducer()({"l": {"losses": torch.ones(3), "indices": torch.arange(3), "reduction_type": "element"}}, EMB, None)


def test_embeddings_required():
    with pytest.raises(TypeError, match="embeddings must be an array"):
        R.MeanReducer()({"l": {"losses": LOSSES, "indices": A, "reduction_type": "element"}}, None, None)
