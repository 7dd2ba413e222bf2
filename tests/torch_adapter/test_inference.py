"""InferenceModel and MatchFinder: brute force agrees, faiss on request, PML's import paths."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from agnostic_ml.accuracy import ExactKNN  # noqa: E402
from agnostic_ml_torch import distances  # noqa: E402
from agnostic_ml_torch._checkpoint import CheckpointError  # noqa: E402
from agnostic_ml_torch.inference import CustomKNN, FaissKNN, InferenceModel, KNNIndex, MatchFinder, run_pca  # noqa: E402
from agnostic_ml_torch.utils import common_functions as c_f  # noqa: E402


def _model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.ReLU(), torch.nn.Linear(8, 4))


def _inputs(n, seed):
    return torch.from_numpy(np.random.default_rng(seed).normal(size=(n, 5))).float()


def _brute(model, query, ref, k, normalize=True):
    with torch.no_grad():
        q, r = model(query), model(ref)
    if normalize:
        q, r = torch.nn.functional.normalize(q, dim=1), torch.nn.functional.normalize(r, dim=1)
    d = torch.cdist(q.double(), r.double())
    order = np.lexsort((np.broadcast_to(np.arange(len(r)), d.shape), d.numpy()), axis=1)  # ties: lower index
    return np.take_along_axis(d.numpy(), order, 1)[:, :k], order[:, :k]


@pytest.mark.parametrize("normalize", [True, False])
def test_nearest_neighbors_match_brute_force(normalize) -> None:
    model, ref, query = _model(), _inputs(50, 1), _inputs(9, 2)
    im = InferenceModel(model, normalize_embeddings=normalize)
    im.train_knn(ref[:30], batch_size=7)
    im.add_to_knn(ref[30:])
    d, i = im.get_nearest_neighbors(query, k=5)
    bd, bi = _brute(model, query, ref, 5, normalize)
    np.testing.assert_array_equal(i.numpy(), bi)
    np.testing.assert_allclose(d.numpy(), bd, rtol=1e-5, atol=1e-6)
    assert isinstance(i, torch.Tensor) and i.dtype == torch.int64


def test_dataset_and_list_inputs_and_embedder() -> None:
    trunk, ref = _model(), _inputs(20, 3)
    embedder = torch.nn.Linear(4, 3)
    im = InferenceModel(trunk, embedder)
    im.train_knn(c_f.EmbeddingDataset(ref, torch.zeros(20)), batch_size=6)
    ref_emb = im.get_embeddings(ref)
    with torch.no_grad():
        want = torch.nn.functional.normalize(embedder(trunk(ref)), dim=1)
    torch.testing.assert_close(ref_emb, want)
    _, i = im.get_nearest_neighbors([ref[3], ref[7]], k=1)  # a list of tensors is stacked
    assert i[:, 0].tolist() == [3, 7]
    with pytest.raises(TypeError, match="not supported"):
        im.train_knn("not inputs")


def test_matches_and_is_match() -> None:
    x = torch.tensor([[1.0, 0.0], [0.95, 0.05], [0.0, 1.0]])
    im = InferenceModel(torch.nn.Identity())
    m = im.get_matches(x)
    cos = torch.nn.functional.normalize(x) @ torch.nn.functional.normalize(x).T
    np.testing.assert_array_equal(m, (cos >= 0.9).numpy())
    assert im.get_matches(x, return_tuples=True) == [(0, 0), (0, 1), (1, 0), (1, 1), (2, 2)]
    assert im.get_matches(x[:1], x, threshold=0.999) .tolist() == [[True, False, False]]
    assert im.is_match(x[:1], x[1:2]) is True
    np.testing.assert_array_equal(im.is_match(x, x[[1, 0, 0]]), [True, True, False])
    # a distance, and unnormalised rows: is_match agrees with the matrix (PML's does not)
    mf = MatchFinder(distances.LpDistance(), threshold=0.2)
    big = torch.tensor([[10.0, 0.0], [9.0, 1.0]])
    assert mf.is_match(big[:1], big[1:]) == bool(mf.get_matching_pairs(big[:1], big[1:])[0, 0])
    with pytest.raises(ValueError, match="threshold"):
        MatchFinder().get_matching_pairs(x)


def test_save_and_load_knn_index(tmp_path) -> None:
    model, ref = _model(), _inputs(25, 4)
    im = InferenceModel(model)
    im.train_knn(ref)
    im.save_knn_func(tmp_path / "index.pth")
    torch.load(tmp_path / "index.pth", weights_only=True)
    other = InferenceModel(model)
    other.load_knn_func(tmp_path / "index.pth")
    q = _inputs(4, 5)
    for a, b in zip(im.get_nearest_neighbors(q, 3), other.get_nearest_neighbors(q, 3)):
        torch.testing.assert_close(a, b)
    (tmp_path / "bad.pth").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="bad.pth"):
        other.load_knn_func(tmp_path / "bad.pth")
    with pytest.raises(ValueError, match="empty"):
        InferenceModel(model).get_nearest_neighbors(q, 1)


def test_plain_search_functions_are_wrapped() -> None:
    model, ref, q = _model(), _inputs(30, 6), _inputs(5, 7)
    for knn_func in (ExactKNN(), CustomKNN(distances.LpDistance(normalize_embeddings=False), batch_size=2)):
        im = InferenceModel(model, knn_func=knn_func)
        assert isinstance(im.knn_func, KNNIndex)
        im.train_knn(ref)
        _, i = im.get_nearest_neighbors(q, 4)
        np.testing.assert_array_equal(i.numpy(), _brute(model, q, ref, 4)[1])
    sim = InferenceModel(model, knn_func=CustomKNN(distances.CosineSimilarity()))
    sim.train_knn(ref)
    s, i = sim.get_nearest_neighbors(q, 4)
    np.testing.assert_array_equal(i.numpy(), _brute(model, q, ref, 4)[1])  # same order on the unit sphere
    assert (s[:, :-1] >= s[:, 1:]).all()  # similarities, largest first


def test_faiss_when_asked(tmp_path) -> None:
    pytest.importorskip("faiss")
    model, ref, q = _model(), _inputs(40, 8), _inputs(6, 9)
    im = InferenceModel(model, knn_func="faiss")
    assert isinstance(im.knn_func, FaissKNN)
    im.train_knn(ref[:20])
    im.add_to_knn(ref[20:])
    d, i = im.get_nearest_neighbors(q, 5)
    bd, bi = _brute(model, q, ref, 5)
    np.testing.assert_array_equal(i.numpy(), bi)
    np.testing.assert_allclose(d.numpy(), bd**2, rtol=1e-4, atol=1e-5)  # faiss: squared distances, as PML
    im.save_knn_func(tmp_path / "faiss.index")
    other = InferenceModel(model, knn_func="faiss")
    other.load_knn_func(tmp_path / "faiss.index")
    np.testing.assert_array_equal(other.get_nearest_neighbors(q, 5)[1].numpy(), bi)
    # the stateless form, with the query inside the reference
    emb = im.get_embeddings(ref)
    _, i2 = FaissKNN()(emb, 3, emb, ref_includes_query=True)
    _, want = ExactKNN()(emb, 3, emb, True)
    np.testing.assert_array_equal(i2.numpy(), want.numpy())


def test_run_pca_and_pml_import_paths() -> None:
    x = _inputs(20, 10)
    y = run_pca(x, 3)
    assert y.shape == (20, 3) and y.dtype == x.dtype
    from sklearn.decomposition import PCA

    want = PCA(3, svd_solver="full").fit_transform(x.double().numpy())
    np.testing.assert_allclose(np.abs(y.numpy()), np.abs(want), rtol=1e-4, atol=1e-5)  # up to each component's sign
    from agnostic_ml_torch.utils import inference as pml_path
    from agnostic_ml_torch.utils.accuracy_calculator import AccuracyCalculator
    from agnostic_ml_torch.utils import loss_and_miner_utils as lmu

    assert pml_path.InferenceModel is InferenceModel and pml_path.MatchFinder is MatchFinder
    assert AccuracyCalculator().get_curr_metrics()[0] == "AMI"
    labels = torch.tensor([0, 0, 1, 1, 0])
    a1, p, a2, n = lmu.get_all_pairs_indices(labels)
    a, pu = lmu.convert_to_pos_pairs_with_unique_labels((a1, p, a2, n), labels)
    assert sorted(labels[a].tolist()) == [0, 1] and (labels[a] == labels[pu]).all()
    i, j = lmu.meshgrid_from_sizes(torch.zeros(2), torch.zeros(3))
    assert i.shape == (2, 3) and j[0].tolist() == [0, 1, 2]


def test_common_functions_helpers() -> None:
    w = torch.nn.Parameter(torch.ones(3))
    half = c_f.to_dtype(w, dtype=torch.float16)
    assert half.dtype == torch.float16 and w.dtype == torch.float32  # never in place
    assert c_f.to_device([torch.zeros(1)], device="cpu")[0].device.type == "cpu"
    assert c_f.pos_inf(torch.float16) == 65504.0 and c_f.neg_inf(torch.float32) < -1e38 and c_f.small_val(torch.float32) > 0
    with pytest.raises(ValueError, match="Number of embeddings"):
        c_f.check_shapes(torch.zeros(3, 2), torch.zeros(2))
    with pytest.raises(ValueError, match="labels are required"):
        c_f.labels_required(None)
    with pytest.raises(ValueError, match="not in dataset_labels"):
        c_f.LabelMapper(True, [1, 2]).map([3], 0)
    c_f.set_logger_name("agnostic-test")
    assert c_f.LOGGER.name == "agnostic-test"
    c_f.set_logger_name("PML")
    init = c_f.TorchInitWrapper(torch.nn.init.constant_, val=2.0)
    t = torch.zeros(2)
    init(t)
    assert t.tolist() == [2.0, 2.0]
    assert c_f.model_device(torch.nn.Linear(1, 1)) == torch.device("cpu")
