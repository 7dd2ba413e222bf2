"""Properties of kNN and retrieval metrics (hypothesis; small N)."""

from __future__ import annotations

import math
import warnings

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from agnostic_ml.accuracy import AccuracyCalculator, knn
from agnostic_ml.accuracy import metrics as M

ALL = (
    "AMI", "NMI", "mean_average_precision", "mean_average_precision_at_r", "mean_reciprocal_rank",
    "precision_at_1", "r_precision",
)
OML = {"cmc_top_k": (1, 3), "precision_top_k": (3,), "map_top_k": (3,), "ndcg_top_k": (1, 4), "fmr_vals": (0, 10, 50)}


@st.composite
def problems(draw, max_n: int = 30):
    """(query, query labels, reference, reference labels, mode) with continuous random embeddings."""
    seed = draw(st.integers(0, 2**31 - 1))
    n = draw(st.integers(2, max_n))
    d = draw(st.integers(1, 3))
    n_classes = draw(st.integers(1, 5))
    g = np.random.default_rng(seed)
    x = g.standard_normal((n, d))
    lab = g.integers(0, n_classes, n)
    mode = draw(st.sampled_from(["loo", "separate", "includes"]))
    n_q = draw(st.integers(1, n - 1)) if mode != "loo" else n
    return x, lab, n_q, mode


def _run(calc, x, lab, n_q, mode):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # all-lone and clipped-k warnings are expected here
        if mode == "loo":
            return calc.get_accuracy(x, lab)
        if mode == "separate":
            return calc.get_accuracy(x[:n_q], lab[:n_q], x[n_q:], lab[n_q:])
        return calc.get_accuracy(x[:n_q], lab[:n_q], x, lab, ref_includes_query=True)


def _k_for(data, choice):
    x, _, n_q, mode = data
    avail = x.shape[0] - (n_q if mode == "separate" else 0) - (0 if mode == "separate" else 1)
    if choice == "int":
        return max(1, min(2, avail))
    return choice


@settings(max_examples=30)
@given(problems(), st.sampled_from([None, "max_bin_count", "int"]), st.booleans())
def test_metrics_are_in_unit_interval(data, kchoice, per_class):
    x, lab, n_q, mode = data
    k = _k_for(data, kchoice)
    calc = AccuracyCalculator(k=k, return_per_class=per_class, **OML)
    res = _run(calc, x, lab, n_q, mode)
    for name, v in res.items():
        vals = v if isinstance(v, list) else [v]
        for val in vals:
            assert isinstance(val, float)
            if name == "AMI":  # adjusted for chance: may be negative
                assert math.isnan(val) or -1.0 <= val <= 1.0 + 1e-12
            else:
                assert math.isnan(val) or -1e-12 <= val <= 1.0 + 1e-12, (name, val)


@settings(max_examples=20)
@given(st.integers(0, 2**31 - 1), st.integers(3, 30), st.integers(1, 5), st.sampled_from([None, "max_bin_count"]))
def test_perfect_embeddings_score_one(seed, n, n_classes, k):
    g = np.random.default_rng(seed)
    lab = g.integers(0, n_classes, n)
    centers = g.permutation(n_classes) * 10.0
    x = np.stack([centers[lab], np.zeros(n)], axis=1) + 1e-3 * g.standard_normal((n, 2))
    res = _run(AccuracyCalculator(k=k, **OML), x, lab, n, "loo")
    lone_all = all(np.sum(lab == c) == 1 for c in np.unique(lab))
    for name, v in res.items():
        if name.startswith("fnmr"):  # undefined without positive or without negative pairs
            undefined = lone_all or len(np.unique(lab)) == 1
            assert math.isnan(v) if undefined else v == 0.0, (name, v)
        elif name in ("AMI", "NMI"):  # scikit-learn's scores may round to 1 - 1e-16
            assert math.isclose(v, 1.0, abs_tol=1e-12), (name, v)
        else:
            assert (math.isnan(v) and lone_all) or v == 1.0, (name, v)


@settings(max_examples=25)
@given(problems(), st.sampled_from([None, "max_bin_count", "int"]), st.integers(0, 2**31 - 1))
def test_permuting_the_reference_changes_nothing(data, kchoice, pseed):
    x, lab, n_q, _ = data
    n_q = min(n_q, x.shape[0] - 1)
    data = (x, lab, n_q, "separate")
    k = _k_for(data, kchoice)
    calc = AccuracyCalculator(k=k, exclude=("AMI", "NMI"), **OML)
    base = _run(calc, x, lab, n_q, "separate")
    perm = n_q + np.random.default_rng(pseed).permutation(x.shape[0] - n_q)
    order = np.concatenate([np.arange(n_q), perm])
    shuffled = _run(calc, x[order], lab[order], n_q, "separate")
    assert list(base) == list(shuffled)
    for name in base:
        np.testing.assert_allclose(shuffled[name], base[name], rtol=0, atol=1e-12, equal_nan=True)


@st.composite
def integer_points(draw, max_n: int = 25):
    """Integer coordinates: exact distances with many ties."""
    n = draw(st.integers(2, max_n))
    d = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**31 - 1))
    return np.random.default_rng(seed).integers(-2, 3, size=(n, d)).astype(np.float64)


def _brute(x: np.ndarray, k: int, exclude_self: bool) -> np.ndarray:
    d = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    if exclude_self:
        d[np.arange(len(x)), np.arange(len(x))] = np.inf
    return np.argsort(d, axis=1, kind="stable")[:, :k]


@settings(max_examples=30)
@given(integer_points(), st.data())
def test_blocked_knn_equals_unblocked_for_any_block_size(x, data):
    n = x.shape[0]
    riq = data.draw(st.booleans())
    k = data.draw(st.integers(0, n - int(riq)))
    bs = data.draw(st.one_of(st.none(), st.integers(1, n + 2)))
    rbs = data.draw(st.one_of(st.none(), st.integers(1, n + 2)))
    budget = data.draw(st.sampled_from([256 * 2**20, 64, 2000]))
    d0, i0 = knn(x, x, k, ref_includes_query=riq)
    d1, i1 = knn(x, x, k, ref_includes_query=riq, block_size=bs, ref_block_size=rbs, memory_budget=budget)
    np.testing.assert_array_equal(i0, i1)
    np.testing.assert_array_equal(d0, d1)
    np.testing.assert_array_equal(i0, _brute(x, k, riq))


@settings(max_examples=8)
@given(integer_points(max_n=15), st.booleans(), st.integers(1, 4))
def test_knn_equals_brute_force_on_every_backend(backend, x, riq, bs):
    k = min(4, x.shape[0] - int(riq))
    _, i = knn(backend.asarray(x, backend.xp.float64), backend.asarray(x, backend.xp.float64), k,
               ref_includes_query=riq, block_size=bs)
    np.testing.assert_array_equal(backend.to_numpy(i), _brute(x, k, riq))


@settings(max_examples=25)
@given(integer_points(max_n=30), st.integers(0, 2**31 - 1), st.integers(1, 4))
def test_all_ranks_mode_equals_full_neighbour_lists(x, seed, n_classes):
    # k=None streams MAP/MRR without neighbour lists; a knn_func that returns the whole
    # ranking must give the same numbers, ties included (both order ties by index).
    lab = np.random.default_rng(seed).integers(0, n_classes, x.shape[0])

    def full(query, k, reference, ref_includes_query):
        return knn(query, reference, k, ref_includes_query=ref_includes_query)

    names = ("mean_average_precision", "mean_reciprocal_rank", "r_precision", "mean_average_precision_at_r",
             "precision_at_1", "ndcg@4", "map@3")
    a = _run(AccuracyCalculator(include=names), x, lab, x.shape[0], "loo")
    b = _run(AccuracyCalculator(include=names, knn_func=full), x, lab, x.shape[0], "loo")
    c = _run(AccuracyCalculator(include=names, block_size=3), x, lab, x.shape[0], "loo")
    for name in a:
        np.testing.assert_allclose(b[name], a[name], rtol=0, atol=1e-12, equal_nan=True)
        np.testing.assert_allclose(c[name], a[name], rtol=0, atol=1e-12, equal_nan=True)


@settings(max_examples=40)
@given(st.integers(0, 2**31 - 1), st.integers(1, 12), st.integers(1, 6))
def test_metric_functions_match_their_definitions(seed, width, k):
    g = np.random.default_rng(seed)
    rel = g.random((7, width)) < 0.4
    n_rel = rel.sum(1) + g.integers(0, 3, 7)  # some relevant items beyond the list
    ranks = M.ranks_from_relevance(rel)
    k = min(k, width)
    for q in range(7):
        pos = [i + 1 for i in range(width) if rel[q, i]]
        R = int(n_rel[q])
        if R == 0:
            assert math.isnan(M.r_precision(ranks, n_rel)[q])
            continue
        prec = [j / r for j, r in enumerate(pos, start=1)]
        assert M.precision_at_1(ranks)[q] == float(bool(pos) and pos[0] == 1)
        if R <= width:
            assert M.r_precision(ranks, n_rel)[q] == sum(r <= R for r in pos) / R
            assert math.isclose(M.mean_average_precision_at_r(ranks, n_rel)[q], sum(p for p, r in zip(prec, pos) if r <= R) / R)
        assert math.isclose(M.mean_average_precision(ranks, n_rel, k)[q], sum(p for p, r in zip(prec, pos) if r <= k) / R)
        assert M.reciprocal_rank(ranks, k)[q] == (1 / pos[0] if pos and pos[0] <= k else 0.0)
        assert M.cmc_at_k(ranks, k)[q] == float(bool(pos) and pos[0] <= k)
        hits = [r for r in pos if r <= k]
        assert math.isclose(M.precision_at_k(ranks, n_rel, k)[q], len(hits) / min(R, k))
        mk = sum(p for p, r in zip(prec, pos) if r <= k) / len(hits) if hits else 0.0
        assert math.isclose(M.map_at_k(ranks, k)[q], mk)
        idcg = sum(1 / math.log2(i + 1) for i in range(1, min(k, R) + 1))
        assert math.isclose(M.ndcg_at_k(ranks, n_rel, k)[q], sum(1 / math.log2(r + 1) for r in hits) / idcg)
