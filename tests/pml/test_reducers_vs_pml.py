"""agnostic_ml.reducers against PML's reducers on the same loss dicts (several seeds, all types).

Where we deliberately differ, the test says so:
- PerAnchorReducer: PML scatters into a B x B matrix, so its reference indices must be
  < B and duplicate pairs collapse; we compare on unique pairs within the batch, and
  check the larger-reference case and triplets (PML: NotImplementedError) against a
  direct computation.
- MeanReducer / SumReducer / ClassWeightedReducer of an *empty* array: PML gives NaN
  (the mean of nothing), we give the graph-keeping zero.
- ThresholdReducer's stat: PML records ``num_above_high`` (a bug), we ``num_below_high``.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pml_reducers = pytest.importorskip("pytorch_metric_learning.reducers")

from agnostic_ml import reducers as ours  # noqa: E402

SEEDS = range(5)
B = 10
TYPES = ["element", "pos_pair", "neg_pair", "triplet", "already_reduced"]
WEIGHTS = [0.3, 1.7, 1.0, 2.5]


def _configs():
    return [
        ("MeanReducer", {}),
        ("SumReducer", {}),
        ("AvgNonZeroReducer", {}),
        ("ThresholdReducer", {"low": 0.3}),
        ("ThresholdReducer", {"high": 0.8}),
        ("ThresholdReducer", {"low": 0.2, "high": 0.9}),
        ("DivisorReducer", {}),
        ("ClassWeightedReducer", {"weights": WEIGHTS}),
    ]


def _loss_dict(seed, rtype, unique_pairs=False):
    rng = np.random.default_rng(seed)
    m = int(rng.integers(1, 30))
    if unique_pairs:
        flat = rng.choice(B * B, size=m, replace=False)
        idx = [flat // B, flat % B, rng.integers(0, B, m)]
    else:
        idx = [rng.integers(0, B, m) for _ in range(3)]
    losses = rng.random(m) * (rng.random(m) > 0.3)  # some exact zeros
    if rtype == "already_reduced":
        losses, indices = np.asarray(rng.random()), None
    elif rtype == "element":
        indices = idx[0]
    elif rtype == "triplet":
        indices = tuple(idx)
    else:
        indices = tuple(idx[:2])
    info = {"losses": losses, "indices": indices, "reduction_type": rtype, "divisor": float(rng.integers(0, 4))}
    return {"loss": info}


def _to(d, conv):
    out = {}
    for name, info in d.items():
        idx = info["indices"]
        new = dict(info)
        new["losses"] = info["losses"] if isinstance(info["losses"], int) else conv(info["losses"])
        if isinstance(idx, tuple):
            new["indices"] = tuple(conv(x) for x in idx)
        elif idx is not None:
            new["indices"] = conv(idx)
        out[name] = new
    return out


def _inputs(seed):
    rng = np.random.default_rng(seed + 1000)
    return rng.normal(size=(B, 4)), rng.integers(0, len(WEIGHTS), B)


def _make(lib, name, kw):
    if name == "ClassWeightedReducer" and lib is pml_reducers:
        kw = {"weights": torch.tensor(kw["weights"], dtype=torch.float64)}
    return getattr(lib, name)(**kw)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("rtype", TYPES)
@pytest.mark.parametrize("config", _configs(), ids=lambda c: f"{c[0]}{c[1] if c[0] != 'ClassWeightedReducer' else ''}")
def test_reducer_equals_pml(seed, rtype, config):
    name, kw = config
    d = _loss_dict(seed, rtype)
    emb, labels = _inputs(seed)
    t_emb, t_lab = torch.as_tensor(emb), torch.as_tensor(labels)
    expected = _make(pml_reducers, name, kw)(_to(d, torch.as_tensor), t_emb, t_lab)
    got_t = _make(ours, name, kw)(_to(d, torch.as_tensor), t_emb, t_lab)
    got_np = _make(ours, name, kw)(d, emb, labels)
    assert torch.is_tensor(got_t) and got_t.shape == () and got_t.dtype == torch.float64
    torch.testing.assert_close(got_t, expected.reshape(()), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(float(got_np), float(expected), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("config", _configs(), ids=lambda c: c[0])
def test_zero_loss_equals_pml(config):
    name, kw = config
    emb = torch.randn(B, 3, dtype=torch.float64, requires_grad=True)
    for rtype in TYPES:
        d = {"l": {"losses": 0, "indices": None, "reduction_type": rtype, "divisor": 2}}
        expected = _make(pml_reducers, name, kw)(d, emb, torch.zeros(B, dtype=torch.int64))
        got = _make(ours, name, kw)(d, emb, torch.zeros(B, dtype=torch.int64))
        assert got.item() == expected.item() == 0.0 and got.requires_grad


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("rtype", ["element", "pos_pair", "neg_pair"])
@pytest.mark.parametrize("inner", ["MeanReducer", "SumReducer", "AvgNonZeroReducer"])
def test_per_anchor_equals_pml(seed, rtype, inner):
    d = _loss_dict(seed, rtype, unique_pairs=True)  # PML's B x B scatter keeps one of duplicate pairs
    emb, labels = _inputs(seed)
    t = _to(d, torch.as_tensor)
    expected = pml_reducers.PerAnchorReducer(getattr(pml_reducers, inner)())(t, torch.as_tensor(emb), torch.as_tensor(labels))
    got = ours.PerAnchorReducer(getattr(ours, inner)())(t, torch.as_tensor(emb), torch.as_tensor(labels))
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_per_anchor_triplets_and_large_reference(seed):
    """PML raises NotImplementedError (triplets) / IndexError (reference > batch); we aggregate per anchor."""
    rng = np.random.default_rng(seed)
    m = 40
    a, p, n = rng.integers(0, B, m), rng.integers(0, 3 * B, m), rng.integers(0, 3 * B, m)
    losses = rng.random(m)
    emb = torch.as_tensor(rng.normal(size=(B, 4)))
    sums, counts = np.bincount(a, losses, minlength=B), np.bincount(a, minlength=B)
    expected = np.mean(np.where(counts > 0, sums / np.maximum(counts, 1), 0))
    trip = {"l": {"losses": torch.as_tensor(losses), "indices": tuple(torch.as_tensor(x) for x in (a, p, n)), "reduction_type": "triplet"}}
    pair = {"l": {"losses": torch.as_tensor(losses), "indices": (torch.as_tensor(a), torch.as_tensor(p)), "reduction_type": "pos_pair"}}
    with pytest.raises(NotImplementedError):
        pml_reducers.PerAnchorReducer()(trip, emb, None)
    with pytest.raises(IndexError):
        pml_reducers.PerAnchorReducer()(pair, emb, None)
    for d in (trip, pair):
        assert abs(ours.PerAnchorReducer()(d, emb, None).item() - expected) < 1e-12


@pytest.mark.parametrize("seed", SEEDS)
def test_multiple_reducers_equal_pml(seed):
    emb, labels = _inputs(seed)
    d = {}
    for k, rtype in enumerate(TYPES):
        d[f"sub{k}"] = _loss_dict(seed * 10 + k, rtype)["loss"]
    d["nothing"] = {"losses": 0, "indices": None, "reduction_type": "element"}
    t = _to(d, torch.as_tensor)
    args = (torch.as_tensor(emb), torch.as_tensor(labels))
    expected = pml_reducers.MultipleReducers(
        {"sub0": pml_reducers.SumReducer(), "sub2": pml_reducers.AvgNonZeroReducer()}, default_reducer=pml_reducers.MeanReducer()
    )(t, *args)
    got = ours.MultipleReducers({"sub0": ours.SumReducer(), "sub2": ours.AvgNonZeroReducer()}, default_reducer=ours.MeanReducer())(t, *args)
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_threshold_stats_vs_pml(seed):
    d = _to(_loss_dict(seed, "triplet"), torch.as_tensor)
    emb = torch.zeros(B, 2, dtype=torch.float64)
    pml_r = pml_reducers.ThresholdReducer(low=0.2, high=0.7, collect_stats=True)
    r = ours.ThresholdReducer(low=0.2, high=0.7, collect_stats=True)
    pml_r(d, emb, None)
    r(d, emb, None)
    assert int(r.num_past_filter) == pml_r.num_past_filter
    assert int(r.num_above_low) == pml_r.num_above_low
    assert int(r.num_below_high) == pml_r.num_above_high  # PML's misnamed stat
    assert r.losses_size == pml_r.losses_size


def test_empty_losses_differ_from_pml_on_purpose():
    emb = torch.zeros(B, 2, dtype=torch.float64, requires_grad=True)
    d = {"l": {"losses": torch.zeros(0, dtype=torch.float64), "indices": torch.zeros(0, dtype=torch.int64), "reduction_type": "element"}}
    assert torch.isnan(pml_reducers.MeanReducer()(d, emb, None))
    out = ours.MeanReducer()(d, emb, None)
    assert out.item() == 0.0 and out.requires_grad
