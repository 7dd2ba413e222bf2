"""k-means (agnostic_ml.accuracy.kmeans / KMeans) on every backend."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from helpers import assert_array

from agnostic_ml.accuracy import KMeans, kmeans


def blobs(seed: int = 0, n_per: int = 15, k: int = 4, d: int = 3, spread: float = 0.3):
    g = np.random.default_rng(seed)
    centers = g.standard_normal((k, d)) * 10
    truth = np.repeat(np.arange(k), n_per)
    x = centers[truth] + spread * g.standard_normal((k * n_per, d))
    perm = g.permutation(truth.shape[0])
    return x[perm], truth[perm]


def test_recovers_separated_blobs(backend, dtype):
    x_np, truth = blobs()
    lab = kmeans(backend.asarray(x_np, dtype), 4, rng=0)
    assert_array(lab, backend, dtype=backend.xp.int64, shape=(60,))
    got = backend.to_numpy(lab)
    assert set(got.tolist()) == {0, 1, 2, 3}
    assert adjusted_rand_score(truth, got) == 1.0


def test_same_seed_same_labels_on_every_backend(backend):
    # Overlapping clusters: the result depends on the seeding, which is drawn on the host.
    x_np = np.random.default_rng(1).standard_normal((50, 2))
    expected = kmeans(x_np, 5, rng=7)
    got = kmeans(backend.asarray(x_np, backend.xp.float64), 5, rng=7)
    np.testing.assert_array_equal(backend.to_numpy(got), expected)
    again = kmeans(backend.asarray(x_np, backend.xp.float64), 5, rng=7)
    np.testing.assert_array_equal(backend.to_numpy(again), expected)


def test_rng_forms():
    x = np.random.default_rng(2).standard_normal((40, 2))
    a = kmeans(x, 6, rng=np.random.default_rng(3))
    b = kmeans(x, 6, rng=3)
    np.testing.assert_array_equal(a, b)
    f = KMeans(rng=11)
    np.testing.assert_array_equal(f(x, 6), f(x, 6))  # an int seed: same clustering every call
    gen = np.random.default_rng(5)
    g = KMeans(rng=gen)
    g(x, 6)
    assert gen.bit_generator.state != np.random.default_rng(5).bit_generator.state  # advanced


def test_inertia_close_to_sklearn():
    from sklearn.cluster import KMeans as SK

    x = np.random.default_rng(4).standard_normal((120, 3))
    ours = kmeans(x, 5, rng=0, n_init=4)
    sk = SK(5, n_init=4, random_state=0).fit(x)

    def inertia(lab):
        return sum(((x[lab == c] - x[lab == c].mean(0)) ** 2).sum() for c in np.unique(lab))

    assert inertia(ours) <= 1.05 * sk.inertia_


def test_edge_cluster_counts(backend):
    x_np = np.random.default_rng(5).standard_normal((9, 2))
    x = backend.asarray(x_np, backend.xp.float64)
    assert backend.to_numpy(kmeans(x, 1, rng=0)).tolist() == [0] * 9
    every = backend.to_numpy(kmeans(x, 9, rng=0))
    assert sorted(every.tolist()) == list(range(9))


def test_duplicate_points_fewer_distinct_than_clusters(backend):
    # 3 distinct points, 5 clusters: seeding runs out of mass and clusters may be empty;
    # the result must still be a valid labelling that keeps identical points together.
    x_np = np.array([[0.0, 0.0]] * 4 + [[5.0, 5.0]] * 4 + [[9.0, 0.0]] * 4)
    lab = backend.to_numpy(kmeans(backend.asarray(x_np, backend.xp.float64), 5, rng=0))
    assert lab.min() >= 0 and lab.max() < 5
    for s in (slice(0, 4), slice(4, 8), slice(8, 12)):
        assert len(set(lab[s].tolist())) == 1
    assert len(set(lab.tolist())) == 3


def test_float32_input_and_kmeans_class(backend):
    x_np, truth = blobs(seed=6)
    f = KMeans(rng=0, n_init=2)
    lab = f(backend.asarray(x_np, backend.xp.float32), 4)
    assert_array(lab, backend, dtype=backend.xp.int64, shape=(60,))
    assert adjusted_rand_score(truth, backend.to_numpy(lab)) == 1.0


@pytest.mark.parametrize(
    "kwargs,err,match",
    [
        ({"n_clusters": 0}, ValueError, "n_clusters"),
        ({"n_clusters": 11}, ValueError, "n_clusters"),
        ({"n_clusters": 2.0}, ValueError, "n_clusters"),
        ({"n_clusters": 2, "n_init": 0}, ValueError, "n_init"),
        ({"n_clusters": 2, "max_iter": 0}, ValueError, "max_iter"),
        ({"n_clusters": 2, "tol": -1.0}, ValueError, "tol"),
    ],
)
def test_bad_arguments(backend, kwargs, err, match):
    x = backend.asarray(np.random.default_rng(7).standard_normal((10, 2)))
    kwargs = dict(kwargs)
    k = kwargs.pop("n_clusters")
    with pytest.raises(err, match=match):
        kmeans(x, k, **kwargs)


def test_bad_arrays(backend):
    x_np = np.random.default_rng(8).standard_normal((10, 2))
    x_np[3, 0] = np.inf
    with pytest.raises(ValueError, match="NaN or inf"):
        kmeans(backend.asarray(x_np), 2)
    with pytest.raises(ValueError, match="2-D"):
        kmeans(backend.asarray(np.ones(5)), 2)
    with pytest.raises(TypeError, match="floating"):
        kmeans(backend.asarray(np.ones((5, 2), dtype=np.int64)), 2)
