"""AccuracyCalculator: hand-computed metrics on every backend, PML semantics, fixes, errors."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from agnostic_ml._array_api import to_numpy
from agnostic_ml.accuracy import AccuracyCalculator, ExactKNN, FaissKNN, knn
from agnostic_ml.accuracy import fnmr as fnmr_mod
from agnostic_ml.accuracy import metrics as M
from agnostic_ml.distances import LpDistance

# --------------------------------------------------------------------------------------------
# The hand-computed case (1-D embeddings, exact in float32).
#   reference: positions 1..6 with labels A B A A B C   (A=0, B=1, C=2; C has one member)
#   q0 at 0.0, label A: ranking r0 r1 r2 r3 r4 r5        -> relevant ranks [1, 3, 4], R = 3
#   q1 at 6.5, label C: ranking r5 r4 r3 ...             -> [1], R = 1
#   q2 at 2.5, label A: r1 and r2 tie at 0.5 (r1, lower index, first), r0 and r3 tie at 1.5
#                                                        -> [2, 3, 4], R = 3
#   q3 at 0.0, label D=3: no D in the reference          -> lone, left out of every kNN metric
# --------------------------------------------------------------------------------------------
REF = np.array([[1.0], [2.0], [3.0], [4.0], [5.0], [6.0]])
REF_LAB = np.array([0, 1, 0, 0, 1, 2])
QUERY = np.array([[0.0], [6.5], [2.5], [0.0]])
QUERY_LAB = np.array([0, 2, 0, 3])
L2, L3, L4 = 1.0, 1 / math.log2(3), 0.5  # 1/log2(r+1) for r = 1, 2, 3
NDCG3 = [(L2 + L4) / (L2 + L3 + L4), 1.0, (L3 + L4) / (L2 + L3 + L4)]

EXPECTED = {
    "precision_at_1": 2 / 3,
    "r_precision": (2 / 3 + 1 + 2 / 3) / 3,
    "mean_average_precision_at_r": 35 / 54,
    "mean_average_precision": 22 / 27,  # k=None: (29/36 + 1 + 23/36) / 3
    "mean_reciprocal_rank": 5 / 6,
    "cmc@1": 2 / 3,
    "cmc@2": 1.0,
    "precision@2": 2 / 3,
    "map@2": 5 / 6,
    "ndcg@3": sum(NDCG3) / 3,
}
PER_CLASS = {  # classes A and C (D is lone)
    "precision_at_1": [0.5, 1.0],
    "r_precision": [2 / 3, 1.0],
    "mean_average_precision_at_r": [17 / 36, 1.0],
    "mean_average_precision": [13 / 18, 1.0],
    "mean_reciprocal_rank": [0.75, 1.0],
    "ndcg@3": [(NDCG3[0] + NDCG3[2]) / 2, 1.0],
}
OML = {"cmc_top_k": (1, 2), "precision_top_k": (2,), "map_top_k": (2,), "ndcg_top_k": (3,)}


def _calc(**kw):
    kw.setdefault("exclude", ("AMI", "NMI"))
    return AccuracyCalculator(**kw)


def _check(got: dict, expected: dict, atol: float = 1e-6) -> None:
    assert set(got) == set(expected), (sorted(got), sorted(expected))
    for k, v in expected.items():
        assert isinstance(got[k], (float, list)), (k, type(got[k]))
        np.testing.assert_allclose(got[k], v, rtol=0, atol=atol, err_msg=k)


def test_hand_computed_every_metric(backend, dtype):
    q, r = backend.asarray(QUERY, dtype), backend.asarray(REF, dtype)
    got = _calc(**OML).get_accuracy(q, QUERY_LAB, r, backend.asarray(REF_LAB))
    _check(got, EXPECTED)
    assert all(type(v) is float for v in got.values())


def test_hand_computed_per_class_and_avg_of_avgs(backend):
    q, r = backend.asarray(QUERY), backend.asarray(REF)
    names = tuple(PER_CLASS)
    got = _calc(include=names, ndcg_top_k=(3,), return_per_class=True).get_accuracy(q, QUERY_LAB, r, REF_LAB)
    _check(got, PER_CLASS)
    got = _calc(include=names, ndcg_top_k=(3,), avg_of_avgs=True).get_accuracy(q, QUERY_LAB, r, REF_LAB)
    _check(got, {k: float(np.mean(v)) for k, v in PER_CLASS.items()})


@pytest.mark.parametrize(
    "k,expected",
    [
        (1, {"mean_average_precision": 4 / 9, "mean_reciprocal_rank": 2 / 3}),
        (2, {"mean_average_precision": 1 / 2, "mean_reciprocal_rank": 5 / 6}),
        ("max_bin_count", {"mean_average_precision": 35 / 54, "mean_reciprocal_rank": 5 / 6}),  # k = 3
    ],
)
def test_k_semantics(backend, k, expected):
    # mean_average_precision divides by R even when k < R (PML); R-metrics stay exact for any k.
    q, r = backend.asarray(QUERY), backend.asarray(REF)
    got = _calc(k=k).get_accuracy(q, QUERY_LAB, r, REF_LAB)
    full = {n: EXPECTED[n] for n in ("precision_at_1", "r_precision", "mean_average_precision_at_r")}
    _check(got, {**full, **expected})


def test_leave_one_out_with_single_member_class(backend, dtype):
    # points 0, 1, 3 (label 0) and 2 (label 1, alone: lone when the query is excluded)
    x = backend.asarray(np.array([[0.0], [1.0], [3.0], [2.0]]), dtype)
    got = _calc().get_accuracy(x, [0, 0, 0, 1])
    _check(got, {
        "precision_at_1": 2 / 3,
        "r_precision": 1 / 2,
        "mean_average_precision_at_r": 5 / 12,
        "mean_average_precision": 3 / 4,
        "mean_reciprocal_rank": 5 / 6,
    })


def test_fnmr_at_fmr_hand_and_brute_force(backend):
    # OML's docstring example for the pure function
    pos = np.array([0, 0, 1, 1, 2, 2, 5, 5, 9, 9.0])
    neg = np.array([3, 3, 4, 4, 6, 6, 7, 7, 8, 8.0])
    assert M.fnmr_at_fmr(backend.asarray(pos), backend.asarray(neg), (10, 50)) == [0.4, 0.2]
    # the calculator over all (query, reference) pairs of the hand case
    d = np.abs(QUERY - REF.T)
    same = QUERY_LAB[:, None] == REF_LAB[None, :]
    vals = (0, 12.5, 50, 90, 100)
    expected = {f"fnmr@fmr={v:g}": float(np.mean(d[same] >= np.percentile(d[~same], v))) for v in vals}
    got = _calc(include=tuple(expected), fmr_vals=vals).get_accuracy(
        backend.asarray(QUERY), QUERY_LAB, backend.asarray(REF), REF_LAB
    )
    _check(got, expected, atol=1e-12)


@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
def test_fnmr_streaming_selection_equals_collecting(monkeypatch, dtype_name):
    g = np.random.default_rng(0)
    x = g.integers(-3, 4, size=(45, 2)).astype(dtype_name)  # many exactly tied distances
    x[:20] += g.standard_normal((20, 2)).astype(dtype_name)
    lab = g.integers(0, 4, 45)
    vals = (0.5, 10, 33.3, 50, 99)
    calc = _calc(include=tuple(f"fnmr@fmr={v:g}" for v in vals), fmr_vals=vals, block_size=7)
    direct = calc.get_accuracy(x, lab)
    monkeypatch.setattr(fnmr_mod, "_COLLECT_CAP", 5)
    monkeypatch.setattr(fnmr_mod, "_BINS", 3)
    streamed = calc.get_accuracy(x, lab)
    assert streamed == direct
    xx = x.astype(np.float64)
    d = np.sqrt(((xx[:, None] - xx[None]) ** 2).sum(-1)).astype(dtype_name)
    same = lab[:, None] == lab[None, :]
    off = ~np.eye(45, dtype=bool)
    for v in vals:
        t = np.asarray(np.percentile(d[~same & off].astype(np.float64), v)).astype(dtype_name)
        np.testing.assert_allclose(direct[f"fnmr@fmr={v:g}"], np.mean(d[same & off] >= t), atol=1e-12)


def test_large_integer_labels_are_not_collapsed(backend):
    # As float32 (PML), 2**24 and 2**24 + 1 are the same number.
    a, b = 2**24, 2**24 + 1
    x = backend.asarray(np.array([[0.0], [0.1], [5.0], [5.1]]))
    got = _calc(include=("precision_at_1", "r_precision")).get_accuracy(x, np.array([a, b, b, a], dtype=np.int64))
    assert got == {"precision_at_1": 0.0, "r_precision": 0.0}
    big = np.array([2**62, 2**62 + 1, 2**62 + 1, 2**62], dtype=np.int64)
    assert _calc(include=("precision_at_1",)).get_accuracy(x, big) == {"precision_at_1": 0.0}


@pytest.mark.parametrize(
    "name", ["precision_at_1", "r_precision", "mean_average_precision_at_r", "mean_average_precision", "mean_reciprocal_rank"]
)
def test_any_single_metric_alone(backend, name):
    # PML: include=("mean_reciprocal_rank",) alone raises TypeError.
    got = AccuracyCalculator(include=(name,)).get_accuracy(
        backend.asarray(QUERY), QUERY_LAB, backend.asarray(REF), REF_LAB
    )
    assert list(got) == [name]
    assert got[name] == pytest.approx(EXPECTED[name], abs=1e-6)


def test_default_metric_set_and_order():
    got = AccuracyCalculator().get_accuracy(QUERY, QUERY_LAB, REF, REF_LAB)
    assert list(got) == [
        "AMI", "NMI", "mean_average_precision", "mean_average_precision_at_r",
        "mean_reciprocal_rank", "precision_at_1", "r_precision",
    ]
    calc = AccuracyCalculator(cmc_top_k=(1,), exclude=("AMI",))
    assert "cmc@1" in calc.get_curr_metrics() and "AMI" not in calc.get_curr_metrics()
    # get_accuracy's include narrows the constructor's set
    got = calc.get_accuracy(QUERY, QUERY_LAB, REF, REF_LAB, include=("cmc@1",))
    assert got == pytest.approx({"cmc@1": 2 / 3})
    # OML names can also be requested without the constructor tuple
    got = AccuracyCalculator(include=("ndcg@3", "map@2")).get_accuracy(QUERY, QUERY_LAB, REF, REF_LAB)
    assert got == pytest.approx({"ndcg@3": EXPECTED["ndcg@3"], "map@2": EXPECTED["map@2"]})


def test_oml_k_larger_than_reference_is_clipped():
    with pytest.warns(UserWarning, match="clipped"):
        got = _calc(include=("cmc@50", "precision@50"), cmc_top_k=(50,), precision_top_k=(50,)).get_accuracy(
            QUERY, QUERY_LAB, REF, REF_LAB
        )
    assert got["cmc@50"] == 1.0 and got["precision@50"] == 1.0


def test_nmi_ami_with_given_clustering(backend):
    q = backend.asarray(QUERY)
    cl = np.array([0, 1, 0, 1])
    calc = AccuracyCalculator(include=("NMI", "AMI"), kmeans_func=lambda x, k: cl)
    from sklearn.metrics import adjusted_mutual_info_score, normalized_mutual_info_score

    got = calc.get_accuracy(q, QUERY_LAB, backend.asarray(REF), REF_LAB)
    assert got["NMI"] == pytest.approx(normalized_mutual_info_score(QUERY_LAB, cl))
    assert got["AMI"] == pytest.approx(adjusted_mutual_info_score(QUERY_LAB, cl))
    # the default k-means recovers two far-apart groups exactly
    x = backend.asarray(np.array([[0.0], [0.1], [0.2], [9.0], [9.1], [9.2]]))
    got = AccuracyCalculator(include=("NMI", "AMI")).get_accuracy(x, [5, 5, 5, 7, 7, 7])
    assert got == {"NMI": 1.0, "AMI": 1.0}


def test_all_queries_lone_gives_nan():
    with pytest.warns(UserWarning, match="None of the query labels"):
        got = _calc(include=("precision_at_1", "mean_average_precision")).get_accuracy(QUERY, [7, 8, 8, 9], REF, REF_LAB)
    assert all(math.isnan(v) for v in got.values())
    with pytest.warns(UserWarning):
        got = _calc(include=("r_precision",), return_per_class=True).get_accuracy(QUERY, [7, 8, 8, 9], REF, REF_LAB)
    assert len(got["r_precision"]) == 3 and all(math.isnan(v) for v in got["r_precision"])


def test_ref_includes_query_with_extra_references(backend):
    # queries are the first rows of the reference; they must not retrieve themselves
    full = np.concatenate([QUERY[:3], REF])
    full_lab = np.concatenate([QUERY_LAB[:3], REF_LAB])
    got = _calc(include=("precision_at_1", "r_precision")).get_accuracy(
        backend.asarray(QUERY[:3]), QUERY_LAB[:3], backend.asarray(full), full_lab, ref_includes_query=True
    )
    # q0 (0.0, A): nearest r0 (A) -> 1; q1 (6.5, C): r5 (C) -> 1; q2 (2.5, A): r1 (B) first -> 0
    # R: q0 = 4 (q2 + 3 A's); ranking of q0: r0(A) r1 q2(A) r2(A) r3(A) -> 3 of 4
    assert got["precision_at_1"] == pytest.approx(2 / 3)
    # q1: R = 1 -> 1; q2: ranking r1 r2(A) q0?  d(q2, q0) = 2.5 > r0, r3 (1.5) -> r1 r2 r0 r3 | q0
    #   A-items: r2, r0, r3, q0 (R = 4): in the first 4: r2, r0, r3 -> 3/4
    assert got["r_precision"] == pytest.approx((3 / 4 + 1 + 3 / 4) / 3)


class _WithCustom(AccuracyCalculator):
    """PML-style extensions: a kNN metric, a clustering metric and a plain one."""

    def calculate_precision_at_2(self, knn_labels, query_labels, not_lone_query_mask, **kwargs):
        kl = np.asarray(to_numpy(knn_labels))[:, :2]
        ql = np.asarray(to_numpy(query_labels))
        keep = np.asarray(to_numpy(not_lone_query_mask))
        return float(np.mean((kl == ql[:, None]).mean(1)[keep]))

    def calculate_n_clusters(self, cluster_labels, **kwargs):
        return float(len(np.unique(np.asarray(to_numpy(cluster_labels)))))

    def calculate_n_queries(self, query, **kwargs):
        return float(query.shape[0])

    def requires_knn(self):
        return super().requires_knn() + ["precision_at_2"]

    def requires_clustering(self):
        return super().requires_clustering() + ["n_clusters"]


@pytest.mark.parametrize("k", [None, 3, "max_bin_count"])
def test_custom_metrics_by_subclassing(backend, k):
    calc = _WithCustom(include=("precision_at_2", "n_clusters", "n_queries", "precision_at_1"), k=k)
    seen = {}

    class Spy(_WithCustom):
        def calculate_precision_at_2(self, **kwargs):
            seen.update(kwargs)
            return super().calculate_precision_at_2(**kwargs)

    got = calc.get_accuracy(backend.asarray(QUERY), QUERY_LAB, backend.asarray(REF), REF_LAB)
    # precision@2 (PML's definition: matches in the first 2 / 2): q0 1/2, q1 1/2 (R=1), q2 1/2
    assert got == pytest.approx({"n_clusters": 3.0, "n_queries": 4.0, "precision_at_1": 2 / 3, "precision_at_2": 0.5})
    Spy(include=("precision_at_2",), k=k).get_accuracy(backend.asarray(QUERY), QUERY_LAB, backend.asarray(REF), REF_LAB)
    width = {None: 6, 3: 3, "max_bin_count": 3}[k]
    assert tuple(seen["knn_labels"].shape) == (4, width)
    assert tuple(seen["knn_distances"].shape) == (4, width)
    assert np.asarray(to_numpy(seen["knn_labels"]))[2].tolist()[:2] == [1, 0]  # r1 before r2 (tie)
    assert np.all(np.diff(np.asarray(to_numpy(seen["knn_distances"])), axis=1) >= 0)
    for key in ("query", "reference", "query_labels", "reference_labels", "ref_includes_query",
                "label_counts", "lone_query_labels", "not_lone_query_mask"):
        assert key in seen
    assert np.asarray(to_numpy(seen["lone_query_labels"])).tolist() == [3]
    assert np.asarray(to_numpy(seen["label_counts"][1])).tolist() == [3, 1, 0]


def test_overriding_a_builtin_metric_pml_style():
    class MyP1(AccuracyCalculator):
        def calculate_precision_at_1(self, knn_labels, query_labels, not_lone_query_mask, **kwargs):
            hit = (np.asarray(knn_labels)[:, 0] == np.asarray(query_labels))[np.asarray(not_lone_query_mask)]
            return float(hit.mean())

    got = MyP1(include=("precision_at_1", "r_precision")).get_accuracy(QUERY, QUERY_LAB, REF, REF_LAB)
    assert got == pytest.approx({"precision_at_1": 2 / 3, "r_precision": EXPECTED["r_precision"]})


def test_custom_label_comparison_fn_with_2d_labels(backend):
    g = np.random.default_rng(0)
    x = g.standard_normal((30, 3))
    coarse = g.integers(0, 3, 30)
    fine = g.integers(0, 5, 30)
    two = np.stack([coarse, fine], axis=1)
    names = ("precision_at_1", "r_precision", "mean_average_precision_at_r", "mean_reciprocal_rank", "cmc@2")
    xa = backend.asarray(x)
    expected = AccuracyCalculator(include=names).get_accuracy(xa, coarse)
    got = AccuracyCalculator(include=names, label_comparison_fn=lambda a, b: a[..., 0] == b[..., 0]).get_accuracy(
        xa, backend.asarray(two)
    )
    assert got == pytest.approx(expected)
    # 2-D labels with plain equality: a whole row must match
    full = AccuracyCalculator(include=names).get_accuracy(xa, backend.asarray(two))
    ids = np.unique(two, axis=0, return_inverse=True)[1].reshape(-1)
    assert full == pytest.approx(AccuracyCalculator(include=names).get_accuracy(xa, ids))
    with pytest.raises(NotImplementedError, match="clustering"):
        AccuracyCalculator(label_comparison_fn=lambda a, b: a == b)


def test_streams_over_query_blocks_never_q_by_r():
    shapes = []

    class Recording(LpDistance):
        def __call__(self, q, r=None):
            shapes.append((q.shape[0], (q if r is None else r).shape[0]))
            return super().__call__(q, r)

    g = np.random.default_rng(1)
    x = g.standard_normal((25, 3))
    lab = g.integers(0, 3, 25)
    for k in (None, "max_bin_count", 4):
        shapes.clear()
        rec = Recording(normalize_embeddings=False)
        got = AccuracyCalculator(k=k, exclude=("AMI", "NMI"), knn_func=ExactKNN(rec, block_size=4)).get_accuracy(x, lab)
        ref = AccuracyCalculator(k=k, exclude=("AMI", "NMI")).get_accuracy(x, lab)
        assert got == pytest.approx(ref)
        assert shapes and max(s[0] for s in shapes) <= 4 and sum(s[0] for s in shapes) == 25


def test_other_knn_funcs_give_the_same_values(backend):
    g = np.random.default_rng(2)
    x_np = g.standard_normal((40, 3)).astype(np.float32)
    lab = g.integers(0, 5, 40)
    x = backend.asarray(x_np, backend.xp.float32)
    names = ("precision_at_1", "r_precision", "mean_average_precision_at_r", "mean_average_precision",
             "mean_reciprocal_rank", "cmc@3", "ndcg@4")

    def plain(query, k, reference, ref_includes_query):
        return knn(query, reference, k, ref_includes_query=ref_includes_query)

    for k in (None, 5):
        ref = AccuracyCalculator(include=names, k=k).get_accuracy(x, lab)
        assert AccuracyCalculator(include=names, k=k, knn_func=plain).get_accuracy(x, lab) == pytest.approx(ref)
        try:
            import faiss  # noqa: F401
        except ImportError:
            continue
        assert AccuracyCalculator(include=names, k=k, knn_func=FaissKNN()).get_accuracy(x, lab) == pytest.approx(ref, abs=1e-6)


def test_device_argument_moves_inputs():
    got = _calc(include=("precision_at_1",), device="cpu").get_accuracy(QUERY, QUERY_LAB, REF, REF_LAB)
    assert got == pytest.approx({"precision_at_1": 2 / 3})
    torch = pytest.importorskip("torch")
    got = _calc(include=("precision_at_1",), device=torch.device("cpu")).get_accuracy(
        torch.from_numpy(QUERY), torch.from_numpy(QUERY_LAB), torch.from_numpy(REF), torch.from_numpy(REF_LAB)
    )
    assert got == pytest.approx({"precision_at_1": 2 / 3})


def test_torch_inputs_with_grad_and_labels_on_device():
    torch = pytest.importorskip("torch")
    q = torch.tensor(QUERY, requires_grad=True)
    got = _calc(**OML).get_accuracy(q, torch.from_numpy(QUERY_LAB), torch.tensor(REF), REF_LAB.tolist())
    _check(got, EXPECTED)


@pytest.mark.parametrize(
    "make,err,match",
    [
        (lambda: AccuracyCalculator(k=0), ValueError, "k must be"),
        (lambda: AccuracyCalculator(k="all"), ValueError, "k must be"),
        (lambda: AccuracyCalculator(k=2.5), ValueError, "k must be"),
        (lambda: AccuracyCalculator(include=("precision_at_5",)), ValueError, "unknown metric"),
        (lambda: AccuracyCalculator(exclude=("nope",)), ValueError, "unknown metric"),
        (lambda: AccuracyCalculator(include="precision_at_1"), TypeError, "tuple or list"),
        (lambda: AccuracyCalculator(avg_of_avgs=True, return_per_class=True), ValueError, "mutually exclusive"),
        (lambda: AccuracyCalculator(cmc_top_k=(0,)), ValueError, "cmc_top_k"),
        (lambda: AccuracyCalculator(fmr_vals=(150,)), ValueError, "percent"),
        (lambda: AccuracyCalculator(include=("fnmr@fmr=abc",)), ValueError, "number"),
        (lambda: AccuracyCalculator(knn_func=3), TypeError, "knn_func"),
    ],
)
def test_constructor_errors(make, err, match):
    with pytest.raises(err, match=match):
        make()


def test_get_accuracy_errors(backend):
    q, r = backend.asarray(QUERY), backend.asarray(REF)
    calc = _calc(include=("precision_at_1", "r_precision"))
    with pytest.raises(ValueError, match="k=7 is larger"):
        _calc(k=7).get_accuracy(q, QUERY_LAB, r, REF_LAB)
    with pytest.raises(ValueError, match="k=4 is larger"):
        _calc(k=4).get_accuracy(q, QUERY_LAB)  # leave-one-out: 3 neighbours available
    with pytest.raises(ValueError, match="query_labels has length 3"):
        calc.get_accuracy(q, QUERY_LAB[:3], r, REF_LAB)
    with pytest.raises(ValueError, match="reference_labels has length 5"):
        calc.get_accuracy(q, QUERY_LAB, r, REF_LAB[:5])
    with pytest.raises(ValueError, match="without reference_labels"):
        calc.get_accuracy(q, QUERY_LAB, r)
    with pytest.raises(ValueError, match="without reference"):
        calc.get_accuracy(q, QUERY_LAB, reference_labels=REF_LAB)
    with pytest.raises(ValueError, match="unknown metric"):
        calc.get_accuracy(q, QUERY_LAB, r, REF_LAB, include=("AMI",))
    with pytest.raises(ValueError, match="features"):
        calc.get_accuracy(q, QUERY_LAB, backend.asarray(np.ones((6, 2))), REF_LAB)
    with pytest.raises(ValueError, match="first len\\(query\\)"):
        calc.get_accuracy(q, QUERY_LAB, r, REF_LAB, ref_includes_query=True)
    with pytest.raises(ValueError, match="empty"):
        calc.get_accuracy(q[:0, ...], QUERY_LAB[:0], r, REF_LAB)
    bad = QUERY.copy()
    bad[1, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        calc.get_accuracy(backend.asarray(bad), QUERY_LAB, r, REF_LAB)
    with pytest.raises(ValueError, match="NaN"):
        calc.get_accuracy(q, QUERY_LAB, r, np.array([0, 1, np.nan, 0, 1, 2]))
    with pytest.raises(ValueError, match="1-D"):
        calc.get_accuracy(q, np.zeros((4, 1, 1)), r, REF_LAB)


def test_calculate_methods_need_get_accuracy():
    with pytest.raises(RuntimeError, match="get_accuracy"):
        AccuracyCalculator().calculate_precision_at_1()


def test_no_warnings_on_the_happy_path():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        AccuracyCalculator(**OML).get_accuracy(QUERY, QUERY_LAB, REF, REF_LAB)


@pytest.mark.parametrize("block_size", [2, 5, None])
def test_all_ranks_mode_tie_paths_agree(backend, block_size, monkeypatch):
    # Integer coordinates: many relevant/irrelevant distance ties. k=None streams MAP/MRR
    # (float32: (key, index) composites for tied rows, or for whole blocks once most rows
    # tie; float64: stable argsort of tied rows); a knn_func returning whole neighbour lists
    # goes through the top-k path. All must agree exactly.
    from agnostic_ml.accuracy import ranking

    composite_rows = []
    original = ranking._composite

    def spy(key, idx, bits, xp):
        composite_rows.append(key.shape[0])
        return original(key, idx, bits, xp)

    monkeypatch.setattr(ranking, "_composite", spy)
    g = np.random.default_rng(7)
    x = g.integers(-2, 3, size=(24, 2)).astype(np.float64)
    lab = g.integers(0, 3, 24)
    names = ("mean_average_precision", "mean_reciprocal_rank", "r_precision", "mean_average_precision_at_r")

    def full(query, k, reference, ref_includes_query):
        return knn(query, reference, k, ref_includes_query=ref_includes_query)

    expected = AccuracyCalculator(include=names, knn_func=full).get_accuracy(x, lab)
    for dt in (backend.xp.float32, backend.xp.float64):
        got = AccuracyCalculator(include=names, block_size=block_size).get_accuracy(backend.asarray(x, dt), lab)
        assert got == pytest.approx(expected, abs=1e-12), dt
    assert composite_rows  # the float32 run resolved its ties through composites
