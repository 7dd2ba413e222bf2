"""AccuracyCalculator against PML 2.9's, on the same embeddings (torch tensors into PML).

PML runs with its default faiss kNN (``IndexFlatL2``) when faiss is installed, else with
``CustomKNN(LpDistance(normalize_embeddings=False))``. faiss breaks ties arbitrarily and
computes in float32, so the data are chosen tie-free: every query's sorted squared
distances differ by a relative margin far above float32 rounding. AMI/NMI get the same
fixed clustering on both sides (a ``kmeans_func`` that returns it).

Deliberate differences, each tested below with the reason:
* R-precision and MAP@R with an int ``k`` below the largest class: PML truncates them
  (and warns); ours stay exact, i.e. equal PML's values with ``k="max_bin_count"``.
* ``include=("mean_reciprocal_rank",)`` alone: PML raises TypeError; ours works.
* labels above 2**24: PML casts them to float32 and merges classes; ours do not.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pml_acc = pytest.importorskip("pytorch_metric_learning.utils.accuracy_calculator")
from pytorch_metric_learning.distances import LpDistance as PMLLp  # noqa: E402
from pytorch_metric_learning.utils.inference import CustomKNN  # noqa: E402

from agnostic_ml.accuracy import AccuracyCalculator  # noqa: E402

logging.getLogger("PML").setLevel(logging.ERROR)

try:  # PML's default knn_func needs faiss
    import faiss  # noqa: F401

    PML_KNN = None
except ImportError:  # pragma: no cover - depends on the environment
    PML_KNN = CustomKNN(PMLLp(normalize_embeddings=False))


def _min_relative_gap(q: np.ndarray, r: np.ndarray, exclude_self: bool) -> float:
    q64, r64 = q.astype(np.float64), r.astype(np.float64)
    d = ((q64[:, None, :] - r64[None, :, :]) ** 2).sum(-1)
    if exclude_self:
        d[np.arange(q.shape[0]), np.arange(q.shape[0])] = np.inf
    s = np.sort(d, axis=1)[:, : r.shape[0] - int(exclude_self)]
    return float((np.diff(s, axis=1) / np.maximum(s[:, 1:], 1e-12)).min())


def tie_free(n_q: int, n_r: int, n_classes: int, want: int, exclude_self: bool):
    """The first ``want`` seeded data sets whose rankings have no near-ties (relative gap > 2e-5)."""
    out = []
    for seed in range(500):
        g = np.random.default_rng(seed)
        x = (g.standard_normal((n_r, 2)) * 10).astype(np.float32)
        if _min_relative_gap(x[:n_q], x, exclude_self) > 2e-5:
            out.append((seed, x, g.integers(0, n_classes, n_r)))
            if len(out) == want:
                return out
    raise AssertionError("not enough tie-free seeds")  # pragma: no cover


LOO = tie_free(60, 60, 9, 3, exclude_self=True)


class Fixed:
    """A kmeans_func returning a given clustering (host array, or a tensor for PML)."""

    def __init__(self, labels: np.ndarray) -> None:
        self.labels = labels

    def __call__(self, x, k):
        return torch.as_tensor(self.labels) if isinstance(x, torch.Tensor) else self.labels


def pml(**kw):
    return pml_acc.AccuracyCalculator(device=torch.device("cpu"), knn_func=PML_KNN, **kw)


def assert_same(ours: dict, theirs: dict, atol: float = 1e-6) -> None:
    assert list(ours) == list(theirs)
    for k in theirs:
        np.testing.assert_allclose(np.asarray(ours[k], float), np.asarray(theirs[k], float), rtol=0, atol=atol,
                                   equal_nan=True, err_msg=k)


@pytest.mark.parametrize("k", [None, "max_bin_count"])
@pytest.mark.parametrize("mode", [{}, {"avg_of_avgs": True}, {"return_per_class": True}])
def test_leave_one_out(k, mode):
    for seed, x, lab in LOO:
        cl = np.random.default_rng(seed).integers(0, 6, x.shape[0])
        theirs = pml(k=k, kmeans_func=Fixed(cl), **mode).get_accuracy(torch.from_numpy(x), torch.from_numpy(lab))
        ours = AccuracyCalculator(k=k, kmeans_func=Fixed(cl), **mode).get_accuracy(x, lab)
        assert_same(ours, theirs)


@pytest.mark.parametrize("k", [None, "max_bin_count", 4])
def test_separate_reference_with_lone_queries(k):
    for seed, x, lab in tie_free(25, 70, 12, 3, exclude_self=False):
        q, ql, r, rl = x[:25], lab[:25], x[25:], lab[25:]
        ql = ql.copy()
        ql[:3] = 99  # a class absent from the reference: lone queries
        cl = np.random.default_rng(seed).integers(0, 4, 25)
        args = [torch.from_numpy(a) for a in (q, ql, r, rl)]
        include = ("AMI", "NMI", "mean_average_precision", "mean_reciprocal_rank", "precision_at_1")
        if k != 4:
            include += ("mean_average_precision_at_r", "r_precision")
        for mode in ({}, {"return_per_class": True}):
            theirs = pml(k=k, kmeans_func=Fixed(cl), include=include, **mode).get_accuracy(*args)
            ours = AccuracyCalculator(k=k, kmeans_func=Fixed(cl), include=include, **mode).get_accuracy(q, ql, r, rl)
            assert_same(ours, theirs)


@pytest.mark.parametrize("k", [None, "max_bin_count"])
def test_reference_includes_query(k):
    for _, x, lab in tie_free(20, 55, 7, 2, exclude_self=True):
        q, ql = x[:20], lab[:20]
        theirs = pml(k=k, exclude=("AMI", "NMI")).get_accuracy(
            torch.from_numpy(q), torch.from_numpy(ql), torch.from_numpy(x), torch.from_numpy(lab), ref_includes_query=True
        )
        ours = AccuracyCalculator(k=k, exclude=("AMI", "NMI")).get_accuracy(q, ql, x, lab, ref_includes_query=True)
        assert_same(ours, theirs)


def test_torch_inputs_give_the_same_numbers():
    _, x, lab = LOO[0]
    xt, lt = torch.from_numpy(x), torch.from_numpy(lab)
    theirs = pml(exclude=("AMI", "NMI")).get_accuracy(xt, lt)
    assert_same(AccuracyCalculator(exclude=("AMI", "NMI")).get_accuracy(xt, lt), theirs)


def test_int_k_below_max_class_r_metrics_stay_exact():
    # Deliberate difference: PML truncates R-precision / MAP@R at k (with a warning); ours
    # compute them from each query's own top-R, i.e. PML's values with k="max_bin_count".
    _, x, lab = LOO[1]
    xt, lt = torch.from_numpy(x), torch.from_numpy(lab)
    exact = pml(k="max_bin_count", exclude=("AMI", "NMI")).get_accuracy(xt, lt)
    truncated = pml(k=2, exclude=("AMI", "NMI")).get_accuracy(xt, lt)
    ours = AccuracyCalculator(k=2, exclude=("AMI", "NMI")).get_accuracy(x, lab)
    for m in ("r_precision", "mean_average_precision_at_r"):
        assert ours[m] == pytest.approx(exact[m], abs=1e-6)
        assert truncated[m] != pytest.approx(exact[m], abs=1e-6)
    for m in ("precision_at_1", "mean_average_precision", "mean_reciprocal_rank"):  # k semantics kept
        assert ours[m] == pytest.approx(truncated[m], abs=1e-6)


def test_mrr_alone():
    # PML: MRR is missing from requires_knn(), so asking for it alone raises TypeError.
    _, x, lab = LOO[2]
    xt, lt = torch.from_numpy(x), torch.from_numpy(lab)
    with pytest.raises(TypeError):
        pml(include=("mean_reciprocal_rank",)).get_accuracy(xt, lt)
    full = pml(exclude=("AMI", "NMI")).get_accuracy(xt, lt)
    ours = AccuracyCalculator(include=("mean_reciprocal_rank",)).get_accuracy(x, lab)
    assert ours == pytest.approx({"mean_reciprocal_rank": full["mean_reciprocal_rank"]}, abs=1e-6)


def test_large_label_ids():
    # PML casts labels to float32: 2**24 and 2**24 + 1 become one class.
    x = np.array([[0.0], [0.1], [5.0], [5.1]], dtype=np.float32)
    lab = np.array([2**24, 2**24 + 1, 2**24 + 1, 2**24], dtype=np.int64)
    theirs = pml(include=("precision_at_1",)).get_accuracy(torch.from_numpy(x), torch.from_numpy(lab))
    ours = AccuracyCalculator(include=("precision_at_1",)).get_accuracy(x, lab)
    assert theirs["precision_at_1"] == 1.0  # wrong: each nearest neighbour has the other label
    assert ours["precision_at_1"] == 0.0
