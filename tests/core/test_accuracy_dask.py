"""Scale-out with Dask: query chunks on a cluster give the in-memory numbers.

The cluster is a ``LocalCluster(n_workers=2, threads_per_worker=1, processes=False)``: two
workers in threads of this process, behind the distributed scheduler (the reference is
scattered to both). ``processes=True`` gives the same results but costs ~12 s of process
start-up, imports and shutdown on a 2-core machine, so here the tasks' payloads are instead
checked to survive a pickle round trip (``test_task_payloads_pickle``). One cluster serves
the whole module; the test without a client runs first.
"""

from __future__ import annotations

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

from agnostic_ml.accuracy import AccuracyCalculator, knn  # noqa: E402
from agnostic_ml.distances import CosineSimilarity  # noqa: E402

OML = {"cmc_top_k": (1, 4), "precision_top_k": (3,), "map_top_k": (3,), "ndcg_top_k": (5,), "fmr_vals": (1, 20)}


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0", silence_logs=40
    )
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


def _same(got: dict, expected: dict) -> None:
    assert list(got) == list(expected)
    for name in expected:
        np.testing.assert_allclose(got[name], expected[name], rtol=0, atol=1e-12, err_msg=name)


def _data(seed: int = 0, n: int = 90, d: int = 3, n_classes: int = 6):
    g = np.random.default_rng(seed)
    return g.standard_normal((n, d)), g.integers(0, n_classes, n)


def test_without_a_distributed_client():
    # Dask's local scheduler (no client): the reference is one shared graph key.
    import dask

    from agnostic_ml.accuracy import dask_support

    if dask_support._client() is not None:
        pytest.skip("a dask.distributed client is active (tests ran out of order)")
    x, lab = _data(4, n=40)
    with dask.config.set(scheduler="threads"):
        d, i = knn(da.from_array(x, chunks=(15, 3)), x, 3, ref_includes_query=True)
        np.testing.assert_array_equal(i.compute(scheduler="threads"), knn(x, x, 3, ref_includes_query=True)[1])


def test_knn_on_the_cluster_equals_in_memory(client):
    x, _ = _data()
    q = da.from_array(x[:70], chunks=(17, 3))
    for riq, ref in ((False, x[40:]), (True, x)):
        d, i = knn(q, ref, 6, ref_includes_query=riq)
        assert isinstance(d, da.Array) and isinstance(i, da.Array)
        assert d.shape == (70, 6) and i.dtype == np.int64
        d, i = da.compute(d, i)
        d0, i0 = knn(x[:70], ref, 6, ref_includes_query=riq)
        np.testing.assert_array_equal(i, i0)
        np.testing.assert_allclose(d, d0, rtol=1e-12)
    # a Dask reference, a similarity and reference tiles
    d, i = knn(q, da.from_array(x, chunks=30), 5, distance=CosineSimilarity(), ref_block_size=13)
    d0, i0 = knn(x[:70], x, 5, distance=CosineSimilarity())
    np.testing.assert_array_equal(i.compute(), i0)


@pytest.mark.parametrize("k", [None, "max_bin_count", 3])
def test_calculator_on_the_cluster_equals_in_memory(client, k):
    x, lab = _data(1)
    calc = AccuracyCalculator(k=k, **OML)
    expected = calc.get_accuracy(x, lab)
    got = calc.get_accuracy(da.from_array(x, chunks=(25, 3)), lab)
    _same(got, expected)


def test_calculator_separate_reference_and_per_class(client):
    x, lab = _data(2)
    q, ql = x[:50], lab[:50].copy()
    ql[:2] = 42  # lone queries
    for kwargs in ({"return_per_class": True}, {"avg_of_avgs": True}):
        calc = AccuracyCalculator(exclude=("AMI", "NMI"), **OML, **kwargs)
        expected = calc.get_accuracy(q, ql, x[50:], lab[50:])
        got = calc.get_accuracy(da.from_array(q, chunks=(20, 3)), ql, da.from_array(x[50:], chunks=20), lab[50:])
        _same(got, expected)
    calc = AccuracyCalculator(exclude=("AMI", "NMI"), **OML)
    expected = calc.get_accuracy(q, ql, x, np.concatenate([ql, lab[50:]]), ref_includes_query=True)
    got = calc.get_accuracy(da.from_array(q, chunks=(20, 3)), ql, x, np.concatenate([ql, lab[50:]]), ref_includes_query=True)
    _same(got, expected)


def test_custom_knn_metric_gets_gathered_neighbours(client):
    class WithP2(AccuracyCalculator):
        def calculate_precision_at_2(self, knn_labels, query_labels, not_lone_query_mask, **kwargs):
            hit = (np.asarray(knn_labels)[:, :2] == np.asarray(query_labels)[:, None]).mean(1)
            return float(hit[np.asarray(not_lone_query_mask)].mean())

        def requires_knn(self):
            return super().requires_knn() + ["precision_at_2"]

    x, lab = _data(3)
    calc = WithP2(include=("precision_at_2", "r_precision"), k=4)
    assert calc.get_accuracy(da.from_array(x, chunks=(30, 3)), lab) == pytest.approx(calc.get_accuracy(x, lab))


def test_dask_errors(client):
    x, lab = _data(5, n=30)
    q = da.from_array(x, chunks=10)
    with pytest.raises(ValueError, match="k=40 is larger"):
        knn(q, x, 40)
    with pytest.raises(ValueError, match="ExactKNN"):
        AccuracyCalculator(knn_func=lambda q, k, r, s: None).get_accuracy(q, lab)
    bad = x.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        knn(da.from_array(bad, chunks=10), x, 2)[0].compute()
    with pytest.raises(ValueError, match="NaN"):
        AccuracyCalculator().get_accuracy(q, lab, bad, lab)


def test_task_payloads_pickle(client, monkeypatch):
    # What each task receives (the query chunk, the shared context with the reference and the
    # labels, the job with its metric functions) must survive pickling, as with processes=True.
    import pickle

    from agnostic_ml.accuracy import dask_support

    # distributed pickles the task functions (by value for this closure), so the record of
    # the calls lives on the imported module, which every copy of the closure shares.
    monkeypatch.setattr(dask_support, "_calls_for_test", [], raising=False)

    def through_pickle(original):
        name = original.__name__

        def run(*args):
            import agnostic_ml.accuracy.dask_support as mod

            mod._calls_for_test.append(name)
            return original(*pickle.loads(pickle.dumps(args)))

        return run

    monkeypatch.setattr(dask_support, "_rank_chunk", through_pickle(dask_support._rank_chunk))
    monkeypatch.setattr(dask_support, "_fnmr_chunk", through_pickle(dask_support._fnmr_chunk))
    x, lab = _data(6, n=50)
    calc = AccuracyCalculator(exclude=("AMI", "NMI"), k="max_bin_count", **OML)
    _same(calc.get_accuracy(da.from_array(x, chunks=(20, 3)), lab), calc.get_accuracy(x, lab))
    assert {"_rank_chunk", "_fnmr_chunk"} <= set(dask_support._calls_for_test)
