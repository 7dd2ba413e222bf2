"""The adapter's nn.Module shells over core classes (issue 7, item 1).

A shell must behave as a PML module: parameters and buffers appear exactly once in
``parameters()`` / ``state_dict()`` even when two shells have equal configuration, forward
hooks fire, ``.to()`` moves state, PML-style attribute assignment works, and core objects
assigned as attributes become registered submodules. Each property is checked on a shell
miner, reducer and distance (and on a hand-composed ``class X(CoreClass, nn.Module)``).
"""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

import agnostic_ml.distances as core_distances  # noqa: E402
import agnostic_ml.miners as core_miners  # noqa: E402
import agnostic_ml.reducers as core_reducers  # noqa: E402
from agnostic_ml_torch import distances, miners, reducers  # noqa: E402
from agnostic_ml_torch._shell import shell_class, to_shell  # noqa: E402

X = torch.tensor(np.random.default_rng(0).standard_normal((8, 4)), dtype=torch.float32)
Y = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
LOSS_DICT = {"loss": {"losses": torch.tensor([0.0, 1.0, 2.0]), "indices": torch.arange(3), "reduction_type": "element"}}

SHELLS = {
    "miner": (lambda: miners.MultiSimilarityMiner(epsilon=0.1), lambda m: m(X, Y)),
    "reducer": (lambda: reducers.AvgNonZeroReducer(), lambda r: r(LOSS_DICT, X, Y)),
    "distance": (lambda: distances.LpDistance(p=2), lambda d: d(X)),
}


@pytest.mark.parametrize("kind", sorted(SHELLS))
def test_is_module_and_core_class(kind):
    make, _ = SHELLS[kind]
    obj = make()
    assert isinstance(obj, nn.Module)
    core_base = {"miner": core_miners.BaseMiner, "reducer": core_reducers.BaseReducer, "distance": core_distances.BaseDistance}
    shell_base = {"miner": miners.BaseMiner, "reducer": reducers.BaseReducer, "distance": distances.BaseDistance}
    assert isinstance(obj, core_base[kind]) and isinstance(obj, shell_base[kind])
    assert type(obj).__module__ == f"agnostic_ml_torch.{kind}s"


@pytest.mark.parametrize("kind", sorted(SHELLS))
def test_forward_hooks_fire_and_output_matches_core(kind):
    make, call = SHELLS[kind]
    obj = make()
    seen = []
    obj.register_forward_pre_hook(lambda mod, args: seen.append("pre"))
    obj.register_forward_hook(lambda mod, args, out: seen.append("post"))
    out = call(obj)
    assert seen == ["pre", "post"]
    core_obj = {"miner": core_miners.MultiSimilarityMiner(epsilon=0.1), "reducer": core_reducers.AvgNonZeroReducer(),
                "distance": core_distances.LpDistance(p=2)}[kind]
    expected = call(core_obj)
    if isinstance(out, tuple):
        assert all(torch.equal(a, b) for a, b in zip(out, expected))
    else:
        assert torch.equal(out, expected)


@pytest.mark.parametrize("kind", sorted(SHELLS))
def test_parameters_of_equal_configs_counted_once_each(kind):
    make, _ = SHELLS[kind]
    holder = nn.Module()
    holder.a, holder.b = make(), make()  # equal configuration, distinct objects
    holder.a.w = nn.Parameter(torch.ones(3))
    holder.b.w = nn.Parameter(torch.zeros(3))
    names = [n for n, _ in holder.named_parameters()]
    assert names == ["a.w", "b.w"]
    assert torch.equal(holder.a.w, torch.ones(3)) and torch.equal(holder.b.w, torch.zeros(3))
    holder.a.register_buffer("buf", torch.arange(2.0))
    holder.b.register_buffer("buf", torch.arange(2.0))
    assert [k for k in holder.state_dict() if k.endswith("buf")] == ["a.buf", "b.buf"]
    assert hash(holder.a) != hash(holder.b)


@pytest.mark.parametrize("kind", sorted(SHELLS))
def test_to_moves_state(kind):
    make, _ = SHELLS[kind]
    obj = make()
    obj.w = nn.Parameter(torch.ones(3))
    obj.register_buffer("buf", torch.ones(2))
    obj.to(torch.float64)
    assert obj.w.dtype == torch.float64 and obj.buf.dtype == torch.float64
    obj.to("meta")
    assert obj.w.device.type == "meta" and obj.buf.device.type == "meta"


def test_pml_style_attribute_assignment():
    m = miners.MultiSimilarityMiner(epsilon=0.1)
    m.epsilon = 0.2
    assert m.epsilon == 0.2 and "epsilon" not in dict(m.named_parameters())
    m.distance = core_distances.LpDistance()  # a core object becomes a registered submodule
    assert isinstance(m.distance, distances.LpDistance) and "distance" in dict(m.named_children())
    a1, p, a2, n = m(X, Y)
    ref = core_miners.MultiSimilarityMiner(epsilon=0.2, distance=core_distances.LpDistance())(X, Y)
    assert all(torch.equal(u, v) for u, v in zip((a1, p, a2, n), ref))
    r = reducers.ThresholdReducer(low=0.5)
    r.low = 1.5
    assert r(LOSS_DICT, X, Y).item() == 2.0


def test_shells_go_in_module_containers():
    md = nn.ModuleDict({"tuple_miner": miners.BatchHardMiner(), "reducer": reducers.MeanReducer()})
    md.to(torch.float64)
    assert set(dict(md.named_children())) == {"tuple_miner", "reducer"}
    assert len(md["tuple_miner"](X, Y)) == 3


def test_default_distance_is_a_submodule():
    m = miners.TripletMarginMiner(margin=0.1)
    assert isinstance(m.distance, distances.LpDistance)
    assert [n for n, _ in m.named_modules()] == ["", "distance"]


def test_nested_core_containers_become_module_containers():
    r = reducers.MultipleReducers({"pos": core_reducers.SumReducer()}, default_reducer=core_reducers.MeanReducer())
    assert isinstance(r.reducers, nn.ModuleDict) and isinstance(r.reducers["pos"], reducers.SumReducer)
    loss = {"pos": {"losses": torch.tensor([1.0, 3.0]), "indices": torch.arange(2), "reduction_type": "element"},
            "neg": {"losses": torch.tensor([1.0, 3.0]), "indices": torch.arange(2), "reduction_type": "element"}}
    assert r(loss, X, Y).item() == 6.0


def test_memory_bank_state_dict_roundtrip_and_to():
    m = miners.MinerWithBank(2, miners.NHardTripletsMiner())
    assert list(m.state_dict()) == ["_bank._extra_state"]  # nothing stored yet
    m(X, Y)
    sd = m.state_dict()
    assert sd["_bank.embeddings"].shape == (16, 4) and sd["_bank._extra_state"]["filled"] == 8
    fresh = miners.MinerWithBank(2, miners.NHardTripletsMiner())
    fresh.load_state_dict(sd)
    assert fresh._bank.filled == 8 and torch.equal(fresh._bank.embeddings, m._bank.embeddings)
    # both continue identically
    X2 = X + 0.5
    assert all(torch.equal(u, v) for u, v in zip(m(X2, Y), fresh(X2, Y)))
    fresh.to(torch.float64)
    assert fresh._bank.embeddings.dtype == torch.float64


def test_memory_bank_with_host_labels_restores_mirror():
    m = miners.TripletMinerWithMemory(bank_size_in_batches=2, tri_expand_k=2, rng=0)
    m(X, Y)
    fresh = miners.TripletMinerWithMemory(bank_size_in_batches=2, tri_expand_k=2, rng=0)
    fresh.load_state_dict(m.state_dict())
    assert np.array_equal(fresh._bank.labels_host, m._bank.labels_host)


def test_empty_bank_state_loads_into_used_miner():
    used = miners.MinerWithBank(2, miners.NHardTripletsMiner())
    used(X, Y)
    used.load_state_dict(miners.MinerWithBank(2, miners.NHardTripletsMiner()).state_dict())
    assert used._bank.embeddings is None and used._bank.filled == 0


def test_pickle_and_deepcopy():
    m = miners.MinerWithBank(2, miners.NHardTripletsMiner())
    m(X, Y)
    for clone in (pickle.loads(pickle.dumps(m)), copy.deepcopy(m)):
        assert isinstance(clone, miners.MinerWithBank)
        assert torch.equal(clone._bank.embeddings, m._bank.embeddings)


def test_stats_readable_as_attributes_on_shells():
    m = miners.BatchHardMiner(collect_stats=True)
    m(X, Y)
    assert m.num_triplets == 8
    with pytest.raises(AttributeError):
        m.no_such_attribute  # noqa: B018


def test_hand_composed_core_and_module():
    """The issue's own check: ``class X(BatchHardMiner, nn.Module)`` composes."""

    class Composed(core_miners.BatchHardMiner, nn.Module):
        pass

    m = Composed()
    m.w = nn.Parameter(torch.ones(2))
    assert torch.equal(m.w, torch.ones(2)) and [n for n, _ in m.named_parameters()] == ["w"]
    fired = []
    m.register_forward_hook(lambda *a: fired.append(1))
    m(X, Y)
    assert fired == [1]


def test_user_subclass_of_core_class_gets_a_generated_shell():
    class MyDistance(core_distances.LpDistance):
        pass

    shell = to_shell(MyDistance(power=2))
    assert isinstance(shell, nn.Module) and isinstance(shell, MyDistance) and shell.power == 2
    assert shell_class(MyDistance) is type(shell)
    assert torch.allclose(shell(X), MyDistance(power=2)(X))


def test_core_stays_plain_python():
    m = core_miners.BatchHardMiner()
    assert not any(c.__module__.startswith("torch") for c in type(m).__mro__)


def test_custom_distance_check_shapes_is_honoured_by_miners_and_losses():
    """A distance that overrides check_shapes to take 3-D embeddings (mean over the middle
    axis) works in a miner and a loss, as in PML (found by running PML's own code)."""
    from agnostic_ml_torch import losses

    class MeanOfViews(distances.LpDistance):
        def check_shapes(self, query_emb, ref_emb=None):
            if query_emb.ndim != 3:
                raise ValueError("expects (batch, views, features)")

        def forward(self, query_emb, ref_emb=None):
            self.check_shapes(query_emb, ref_emb)
            plain = distances.LpDistance()
            return plain(query_emb.mean(dim=1), None if ref_emb is None else ref_emb.mean(dim=1))

    x3 = X[:, None, :].repeat(1, 2, 1)
    miner = miners.BatchHardMiner(distance=MeanOfViews())
    a, p, n = miner(x3, Y)
    assert all(torch.equal(u, v) for u, v in zip((a, p, n), miners.BatchHardMiner()(X, Y)))
    loss = losses.TripletMarginLoss(distance=MeanOfViews())
    assert torch.allclose(loss(x3, Y), losses.TripletMarginLoss()(X, Y))
    with pytest.raises(ValueError, match="views"):
        miner(X, Y)
