"""PML 0.9's miner API (seeds 001/004): legacy geometry arguments, pre-gradient miners, MaximumLossMiner."""

from __future__ import annotations

import numpy as np
import pytest

from agnostic_ml import miners
from agnostic_ml.distances import CosineSimilarity, DotProductSimilarity, LpDistance
from agnostic_ml.losses import ContrastiveLoss, TripletMarginLoss

X = np.random.default_rng(0).standard_normal((16, 4))
Y = np.arange(16) % 4


@pytest.mark.parametrize(
    "make, kind, attrs",
    [
        (lambda: miners.PairMarginMiner(0.2, 0.8, True), DotProductSimilarity, {"normalize_embeddings": True}),
        (lambda: miners.PairMarginMiner(0.2, 0.8, False, True), LpDistance, {"power": 2}),
        (lambda: miners.HDCMiner(0.3, True), DotProductSimilarity, {}),
        (lambda: miners.BatchHardMiner(False, True), LpDistance, {"power": 2}),
        (lambda: miners.BatchHardMiner(use_similarity=True), DotProductSimilarity, {}),
        (lambda: miners.TripletMarginMiner(margin=0.1, normalize_embeddings=False), LpDistance, {"normalize_embeddings": False}),
        (lambda: miners.MultiSimilarityMiner(0.1, normalize_embeddings=False), DotProductSimilarity, {"normalize_embeddings": False}),
        (lambda: miners.MultiSimilarityMiner(0.1, normalize_embeddings=True), CosineSimilarity, {}),
        (lambda: miners.BaseMiner(normalize_embeddings=False), LpDistance, {"normalize_embeddings": False}),
    ],
)
def test_legacy_geometry_maps_onto_a_distance_with_a_warning(make, kind, attrs):
    with pytest.warns(FutureWarning, match="PML 0.9 spelling"):
        m = make()
    assert type(m.distance) is kind
    for k, v in attrs.items():
        assert getattr(m.distance, k) == v


def test_legacy_miner_mines_like_the_modern_spelling():
    with pytest.warns(FutureWarning):
        old = miners.PairMarginMiner(0.3, 0.6, False, True)
    new = miners.PairMarginMiner(0.3, 0.6, distance=LpDistance(power=2))
    assert [a.tolist() for a in old(X, Y)] == [a.tolist() for a in new(X, Y)]


def test_legacy_errors():
    with pytest.raises(ValueError, match="not both"):
        miners.PairMarginMiner(use_similarity=True, distance=LpDistance())
    with pytest.raises(ValueError, match="exclude each other"):
        miners.BatchHardMiner(use_similarity=True, squared_distances=True)
    with pytest.raises(TypeError, match="positional"):
        miners.PairMarginMiner(0.2, 0.8, True, False, True)
    with pytest.raises(TypeError):
        miners.MultiSimilarityMiner(0.1, True)  # 0.9 had no positional geometry here


def test_maximum_loss_miner_picks_the_worst_subset():
    loss = TripletMarginLoss(margin=0.2)
    m = miners.MaximumLossMiner(loss, num_trials=6, output_batch_size=8, rng=3)
    idx = m(X, Y)
    assert idx.shape == (8,) and len(set(idx.tolist())) == 8 and idx.dtype == np.int64
    rng = np.random.default_rng(3)
    subsets = [rng.choice(16, size=8, replace=False) for _ in range(6)]
    values = [float(loss(X[s], Y[s])) for s in subsets]
    assert idx.tolist() == subsets[int(np.argmax(values))].tolist()
    again = miners.MaximumLossMiner(loss, num_trials=6, output_batch_size=8, rng=3)(X, Y)
    assert again.tolist() == idx.tolist()


def test_maximum_loss_miner_with_an_inner_miner_and_errors():
    m = miners.MaximumLossMiner(ContrastiveLoss(), miners.MultiSimilarityMiner(0.1), num_trials=3, output_batch_size=10, rng=0)
    assert m(X, Y).shape == (10,)
    with pytest.raises(ValueError, match="larger than the batch"):
        miners.MaximumLossMiner(ContrastiveLoss(), output_batch_size=40)(X, Y)
    with pytest.raises(TypeError, match="loss_function"):
        miners.MaximumLossMiner(3, output_batch_size=4)
    with pytest.raises(ValueError, match="ref_emb"):
        m(X, Y, X, Y)


def test_pre_and_post_gradient_bases():
    class FirstK(miners.BasePreGradientMiner):
        def mine(self, embeddings, labels):
            return np.arange(self.output_batch_size)

    assert FirstK(output_batch_size=3)(X, Y).tolist() == [0, 1, 2]

    class Wrong(miners.BasePreGradientMiner):
        def mine(self, embeddings, labels):
            return np.arange(2)

    with pytest.raises(ValueError, match="must return 3 indices"):
        Wrong(output_batch_size=3)(X, Y)
    with pytest.warns(FutureWarning, match="BasePostGradientMiner"):

        class Old(miners.BasePostGradientMiner):
            def mine(self, embeddings, labels, ref_emb, ref_labels):
                return miners.BatchHardMiner().mine(embeddings, labels, ref_emb, ref_labels)

    assert len(Old()(X, Y)) == 3


def test_torch_shells_of_the_legacy_miners():
    torch = pytest.importorskip("torch")
    from agnostic_ml_torch import losses as tl, miners as tm

    x = torch.tensor(X)
    idx = tm.MaximumLossMiner(tl.ContrastiveLoss(), num_trials=3, output_batch_size=5, rng=1)(x, torch.tensor(Y))
    assert isinstance(idx, torch.Tensor) and idx.shape == (5,)
    with pytest.warns(FutureWarning):
        m = tm.PairMarginMiner(0.2, 0.8, True)
    assert isinstance(m, torch.nn.Module) and isinstance(m.distance, torch.nn.Module)
