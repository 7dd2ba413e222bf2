"""Trainers: each one learns on tiny easy data, hooks, key checks, PML 0.9 spellings, AMP, exact resume."""

from __future__ import annotations

import doctest
import importlib
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from agnostic_ml_torch import losses, miners, trainers  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CLASSES, PER_CLASS, DIM, EMB = 4, 16, 8, 4
COMMON = dict(dataloader_num_workers=0, data_device="cpu", progress_bar=False)


def make_data(seed=0):
    g = torch.Generator().manual_seed(seed)
    centers = 3.0 * torch.randn(CLASSES, DIM, generator=g)
    y = torch.arange(CLASSES).repeat_interleave(PER_CLASS)
    x = centers[y] + 0.5 * torch.randn(len(y), DIM, generator=g)
    return x, y


X, Y = make_data()
DATASET = torch.utils.data.TensorDataset(X, Y)


def mlp(d_in=DIM, d_out=EMB, seed=0, dropout=0.0):
    torch.manual_seed(seed)
    layers = [nn.Linear(d_in, 16), nn.ReLU()] + ([nn.Dropout(dropout)] if dropout else []) + [nn.Linear(16, d_out)]
    return nn.Sequential(*layers)


def adam(*modules, lr=1e-2):
    return torch.optim.Adam([p for m in modules for p in m.parameters()], lr=lr)


def full_loss(embed, x=X, y=Y):
    """A fixed yardstick: the contrastive loss of the whole dataset's embeddings (eval mode, no grad)."""
    with torch.no_grad():
        return float(losses.ContrastiveLoss()(embed(x), y))


def base_kwargs(**over):
    trunk = mlp()
    kw = dict(
        models={"trunk": trunk},
        optimizers={"trunk_optimizer": adam(trunk)},
        batch_size=16,
        loss_funcs={"metric_loss": losses.ContrastiveLoss()},
        dataset=DATASET,
        seed=0,
        **COMMON,
    )
    kw.update(over)
    return kw


# -- every trainer learns ------------------------------------------------------------------------
def test_metric_loss_only_learns_with_a_miner():
    kw = base_kwargs(mining_funcs={"tuple_miner": miners.MultiSimilarityMiner(epsilon=0.1)})
    trunk = kw["models"]["trunk"]
    before = full_loss(trunk)
    t = trainers.MetricLossOnly(**kw)
    t.train(num_epochs=4)
    assert t.epoch == 4 and t.iterations_per_epoch == 4 and len(t.loss_history) == 4
    assert full_loss(trunk) < 0.5 * before


def test_train_with_classifier_learns_both_losses():
    trunk, clf = mlp(), nn.Linear(EMB, CLASSES)
    ce = nn.CrossEntropyLoss()
    with torch.no_grad():
        ce_before = float(ce(clf(trunk(X)), Y))
    before = full_loss(trunk)
    t = trainers.TrainWithClassifier(**base_kwargs(
        models={"trunk": trunk, "classifier": clf},
        optimizers={"trunk_optimizer": adam(trunk), "classifier_optimizer": adam(clf)},
        loss_funcs={"metric_loss": losses.ContrastiveLoss(), "classifier_loss": ce},
        loss_weights={"metric_loss": 1.0, "classifier_loss": 0.5},
    ))
    t.train(num_epochs=4)
    with torch.no_grad():
        assert float(ce(clf(trunk(X)), Y)) < 0.7 * ce_before
    assert full_loss(trunk) < 0.5 * before


def test_cascaded_embeddings_learns_every_slice_and_chains_hdc_miners():
    trunk, clf = mlp(d_out=2 * EMB), nn.Linear(EMB, CLASSES)
    calls = []
    hdc = miners.HDCMiner(filter_percentage=0.5)
    hdc.register_forward_hook(lambda m, args, out: calls.append(len(out[0])))
    slices = [lambda x: trunk(x)[:, :EMB], lambda x: trunk(x)[:, EMB:]]
    before = [full_loss(s) for s in slices]
    t = trainers.CascadedEmbeddings(embedding_sizes=[EMB, EMB], **base_kwargs(
        models={"trunk": trunk, "classifier_1": clf},
        optimizers={"trunk_optimizer": adam(trunk), "classifier_1_optimizer": adam(clf)},
        loss_funcs={"metric_loss_0": losses.ContrastiveLoss(), "metric_loss_1": losses.ContrastiveLoss(),
                    "classifier_loss_1": nn.CrossEntropyLoss()},
        mining_funcs={"tuple_miner_1": hdc},
    ))
    t.train(num_epochs=4)
    assert all(full_loss(s) < 0.6 * b for s, b in zip(slices, before))
    assert len(calls) == 4 * t.iterations_per_epoch and all(c > 0 for c in calls)


def test_deep_adversarial_metric_learning_learns_and_trains_the_generator():
    trunk, emb, gen = mlp(d_out=8), nn.Linear(8, EMB), nn.Linear(24, 8)
    gen_before = [p.detach().clone() for p in gen.parameters()]
    embed = lambda x: emb(trunk(x))  # noqa: E731
    before = full_loss(embed)
    t = trainers.DeepAdversarialMetricLearning(
        metric_alone_epochs=1, g_alone_epochs=1, g_triplets_per_anchor=4, **base_kwargs(
            models={"trunk": trunk, "embedder": emb, "generator": gen},
            optimizers={"trunk_optimizer": adam(trunk), "embedder_optimizer": adam(emb), "generator_optimizer": adam(gen)},
            loss_funcs={"metric_loss": losses.ContrastiveLoss(), "synth_loss": losses.TripletMarginLoss(margin=0.1),
                        "g_adv_loss": losses.TripletMarginLoss(margin=0.1)},
            loss_weights={"metric_loss": 1, "synth_loss": 0.1, "g_adv_loss": 0.1, "g_hard_loss": 0.1, "g_reg_loss": 0.1},
        ))
    assert t.loss_funcs["g_adv_loss"].margin == pytest.approx(-0.1)
    t.train(num_epochs=4)
    assert full_loss(embed) < 0.5 * before
    assert any(not torch.equal(a, b) for a, b in zip(gen_before, gen.parameters()))
    assert all(p.requires_grad for m in (trunk, emb, gen) for p in m.parameters())  # phase flags undone


def test_unsupervised_embeddings_using_augmentations_pulls_views_together():
    from agnostic_ml_torch import reducers

    trunk = mlp()
    g = torch.Generator().manual_seed(0)
    items = 3 * torch.randn(32, DIM, generator=g)  # 32 distinct items; their labels are never read
    noise = lambda v: v + 0.1 * torch.randn_like(v)  # noqa: E731
    x1, x2 = noise(items), noise(items)
    ids = torch.arange(len(items))
    yardstick = losses.ContrastiveLoss(reducer=reducers.MeanReducer())

    def view_loss():  # the two views of an item are its positives, every other view a negative
        with torch.no_grad():
            return float(yardstick(torch.cat([trunk(x1), trunk(x2)]), torch.cat([ids, ids])))

    before = view_loss()
    t = trainers.UnsupervisedEmbeddingsUsingAugmentations(transforms=[noise, noise], **base_kwargs(
        models={"trunk": trunk}, optimizers={"trunk_optimizer": adam(trunk)}, batch_size=8,
        dataset=torch.utils.data.TensorDataset(items, torch.full((32,), 7)),
        loss_funcs={"metric_loss": losses.ContrastiveLoss(reducer=reducers.MeanReducer())}))
    t.train(num_epochs=10)
    assert view_loss() < 0.7 * before


def test_twostream_metric_loss_learns_and_mines_anchors_against_posnegs():
    class Pairs(torch.utils.data.Dataset):
        def __len__(self):
            return len(X)

        def __getitem__(self, i):
            return X[i], X[i] + 0.1, int(Y[i])

    trunk = mlp()
    seen = []
    miner = miners.MultiSimilarityMiner(epsilon=0.1)
    miner.register_forward_hook(lambda m, args, out: seen.append(len(args)))
    before = full_loss(trunk)
    t = trainers.TwoStreamMetricLoss(**base_kwargs(
        models={"trunk": trunk}, optimizers={"trunk_optimizer": adam(trunk)}, dataset=Pairs(),
        loss_funcs={"metric_loss": losses.TripletMarginLoss(margin=0.2)}, mining_funcs={"tuple_miner": miner}))
    t.train(num_epochs=4)
    assert full_loss(trunk) < 0.5 * before
    assert seen and set(seen) == {4}  # (anchors, labels, posnegs, labels)


# -- hooks and early stopping ------------------------------------------------------------------------
def test_hooks_receive_the_trainer_and_end_of_epoch_false_stops():
    calls = []

    def it_hook(trainer):
        assert isinstance(trainer, trainers.MetricLossOnly)
        assert float(trainer.losses["total_loss"].detach()) > 0 and trainer.loss_tracker.losses is trainer.losses
        calls.append(("it", trainer.epoch, trainer.iteration, trainer.get_global_iteration()))

    def ep_hook(trainer):
        calls.append(("ep", trainer.epoch, trainer.lr_schedulers is not None, trainer.dataloader is not None))
        return trainer.epoch < 2

    t = trainers.MetricLossOnly(**base_kwargs(end_of_iteration_hook=it_hook, end_of_epoch_hook=ep_hook))
    t.train(num_epochs=5)
    assert t.epoch == 2
    its = [c for c in calls if c[0] == "it"]
    assert [c[3] for c in its] == list(range(8)) and [c[2] for c in its[:4]] == [0, 1, 2, 3]
    assert [c for c in calls if c[0] == "ep"] == [("ep", 1, True, True), ("ep", 2, True, True)]


def test_early_stopping_patience_and_int_shortcut():
    seen = []
    es = trainers.EarlyStopping(patience=1, monitor=lambda t: float(t.epoch))  # never improves after epoch 1
    t = trainers.MetricLossOnly(**base_kwargs(early_stopping=es, end_of_epoch_hook=lambda t: seen.append(t.epoch)))
    t.train(num_epochs=10)
    assert t.epoch == 3 and seen == [1, 2, 3] and es.best_epoch == 1 and es.stopped_epoch == 3
    t2 = trainers.MetricLossOnly(**base_kwargs(early_stopping=2))
    assert isinstance(t2.early_stopping, trainers.EarlyStopping) and t2.early_stopping.patience == 2
    with pytest.raises(TypeError, match="early_stopping"):
        trainers.MetricLossOnly(**base_kwargs(early_stopping="soon"))


# -- checks before training ------------------------------------------------------------------------
def _pml_sampler(m):
    pml_samplers = pytest.importorskip("pytorch_metric_learning.samplers")
    return pml_samplers.MPerClassSampler(Y, m=m)


def _bad_configs():
    t, e, clf = mlp(), nn.Linear(EMB, EMB), nn.Linear(EMB, CLASSES)
    cl = losses.ContrastiveLoss
    return [
        ("model key", {"models": {"trunk": t, "embeder": e}}, "models has the key 'embeder'.*allowed keys: trunk, embedder"),
        ("no trunk", {"models": {"embedder": e}, "optimizers": {}}, "models must contain the key 'trunk'"),
        ("optimizer key", {"optimizers": {"trunk_optim": adam(t)}}, "optimizers has the key 'trunk_optim'.*trunk_optimizer"),
        ("scheduler key", {"lr_schedulers": {"trunk_scheduler_by_step": 1}},
         "lr_schedulers has the key 'trunk_scheduler_by_step'.*trunk_scheduler_by_iteration, .*trunk_scheduler_by_plateau"),
        ("clipper key", {"gradient_clippers": {"trunk_clipper": lambda: None}}, "gradient_clippers has the key 'trunk_clipper'.*trunk_grad_clipper"),
        ("loss key", {"loss_funcs": {"metric_loss": cl(), "classifier_loss": nn.CrossEntropyLoss()}},
         "loss_funcs has the key 'classifier_loss'.*allowed keys: metric_loss"),
        ("missing loss", {"loss_funcs": {}}, "loss_funcs must contain 'metric_loss'"),
        ("miner key", {"mining_funcs": {"miner": miners.BatchHardMiner()}}, "mining_funcs has the key 'miner'.*subset_batch_miner, tuple_miner"),
        ("weight key", {"loss_weights": {"metric_los": 1}}, "loss_weights has the key 'metric_los'"),
        ("model without optimizer", {"models": {"trunk": t, "embedder": e}, "optimizers": {"trunk_optimizer": adam(t)}},
         r"models\['embedder'\] has 2 trainable parameter tensors but no optimizer.*'embedder_optimizer'.*freeze_these"),
        ("learnable loss without optimizer", {"loss_funcs": {"metric_loss": _learnable_loss()}},
         r"loss_funcs\['metric_loss'\] has 2 trainable .*'metric_loss_optimizer'"),
        ("freeze key", {"freeze_these": ["trunk2"]}, "freeze_these has 'trunk2'"),
        ("empty dataset", {"dataset": torch.utils.data.TensorDataset(X[:0], Y[:0])}, "dataset is empty"),
        ("tiny dataset", {"dataset": torch.utils.data.TensorDataset(X[:5], Y[:5])}, "5 items, fewer than batch_size=16"),
        ("m divides batch", {"sampler": "m3"}, "batch_size=16 is not divisible by the sampler's m=3"),
        ("m x classes", {"sampler": "m2"}, "m=2 and 4 classes.*m x classes = 8.*batch_size=16"),
        ("mixed precision", {"mixed_precision": "int8"}, "mixed_precision must be None, 'bf16' or 'fp16'"),
        ("label mapping", {"set_min_label_to_zero": True}, "set_min_label_to_zero=True needs dataset_labels"),
        ("batch size", {"batch_size": 0}, "batch_size must be a positive int"),
    ]


def _learnable_loss():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return losses.ContrastiveLoss(learnable_param_names=["pos_margin", "neg_margin"])


@pytest.mark.parametrize("case", _bad_configs(), ids=lambda c: c[0])
def test_bad_configuration_raises_at_construction(case):
    _, over, match = case
    if over.get("sampler") in ("m2", "m3"):
        over = {**over, "sampler": _pml_sampler(int(over["sampler"][1]))}
    with pytest.raises(ValueError, match=match):
        trainers.MetricLossOnly(**base_kwargs(**over))


def test_freeze_these_exempts_a_model_from_needing_an_optimizer():
    t, e = mlp(), nn.Linear(EMB, EMB)
    before = e.weight.detach().clone()
    tr = trainers.MetricLossOnly(**base_kwargs(models={"trunk": t, "embedder": e}, optimizers={"trunk_optimizer": adam(t)},
                                               freeze_these=["embedder"]))
    tr.train(num_epochs=1)
    assert torch.equal(e.weight, before) and not e.weight.requires_grad


def test_trainer_specific_configuration_errors():
    t, gen = mlp(), nn.Linear(3 * EMB, EMB)
    with pytest.raises(ValueError, match="'classifier_loss' but models has no 'classifier'"):
        trainers.TrainWithClassifier(**base_kwargs(loss_funcs={"classifier_loss": nn.CrossEntropyLoss()}))
    daml = dict(loss_funcs={"metric_loss": losses.ContrastiveLoss(), "synth_loss": losses.ContrastiveLoss(),
                            "g_adv_loss": losses.TripletMarginLoss()})
    with pytest.raises(ValueError, match="models must contain the key 'generator'"):
        trainers.DeepAdversarialMetricLearning(**base_kwargs(**daml))
    bad = {**daml["loss_funcs"], "g_adv_loss": losses.ContrastiveLoss()}
    with pytest.raises(TypeError, match="g_adv_loss'\\] must be a TripletMarginLoss"):
        trainers.DeepAdversarialMetricLearning(**base_kwargs(
            models={"trunk": t, "generator": gen}, loss_funcs=bad,
            optimizers={"trunk_optimizer": adam(t), "generator_optimizer": adam(gen)}))
    with pytest.raises(ValueError, match="slice 2 but embedding_sizes has 2 slices"):
        trainers.CascadedEmbeddings([2, 2], **base_kwargs(loss_funcs={"metric_loss_2": losses.ContrastiveLoss()}))
    with pytest.raises(ValueError, match="mining_funcs has the key 'subset_batch_miner'.*allowed keys: tuple_miner"):
        trainers.TwoStreamMetricLoss(**base_kwargs(mining_funcs={"subset_batch_miner": miners.BatchHardMiner()}))


# -- PML 0.9 spellings ------------------------------------------------------------------------------
class _HalfBatch(nn.Module):
    """A subset-batch miner: keeps the first half of the batch."""

    def forward(self, embeddings, labels):
        return torch.arange(embeddings.shape[0] // 2)


def test_legacy_miner_keys_warn_and_are_used():
    sizes = []
    tuple_miner = miners.MultiSimilarityMiner(epsilon=0.1)
    tuple_miner.register_forward_hook(lambda m, args, out: sizes.append(args[0].shape[0]))
    with pytest.warns(FutureWarning, match="'pre_gradient_miner' -> 'subset_batch_miner'.*'post_gradient_miner' -> 'tuple_miner'") as w:
        t = trainers.MetricLossOnly(**base_kwargs(mining_funcs={"pre_gradient_miner": _HalfBatch(), "post_gradient_miner": tuple_miner}))
    assert set(t.mining_funcs) == {"subset_batch_miner", "tuple_miner"}
    assert w[0].filename == __file__  # attributed to the line that built the trainer
    with pytest.warns(FutureWarning, match="'post_gradient_miner_0' -> 'tuple_miner_0'") as w:
        c = trainers.CascadedEmbeddings([EMB], **base_kwargs(
            loss_funcs={"metric_loss_0": losses.ContrastiveLoss()}, mining_funcs={"post_gradient_miner_0": miners.BatchHardMiner()}))
    assert set(c.mining_funcs) == {"tuple_miner_0"} and w[0].filename == __file__
    t.train(num_epochs=1)
    assert sizes == [8] * 4  # the tuple miner saw the halved batches


def test_legacy_dict_dataset_warns_and_trains():
    class Dicts(torch.utils.data.Dataset):
        def __len__(self):
            return len(X)

        def __getitem__(self, i):
            return {"data": X[i], "label": Y[i]}

    trunk = mlp()
    before = full_loss(trunk)
    with pytest.warns(FutureWarning, match="items are dicts.*data_and_label_getter"):
        t = trainers.MetricLossOnly(**base_kwargs(models={"trunk": trunk}, optimizers={"trunk_optimizer": adam(trunk)}, dataset=Dicts()))
    t.train(num_epochs=3)
    assert full_loss(trunk) < 0.7 * before


def test_legacy_record_keeper_label_mapper_and_scheduler_key():
    class RecordKeeper:
        def __init__(self):
            self.records, self.figures = [], []

        def update_records(self, record, global_iteration, **kwargs):
            self.records.append((global_iteration, record, kwargs))

        def maybe_add_custom_figures_to_tensorboard(self, global_iteration):
            self.figures.append(global_iteration)

    rk, seen_labels = RecordKeeper(), []
    miner = miners.MultiSimilarityMiner()
    miner.register_forward_hook(lambda m, args, out: seen_labels.append(args[1]))
    trunk = mlp()
    opt = adam(trunk)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    with pytest.warns(FutureWarning) as record:
        t = trainers.MetricLossOnly(**base_kwargs(
            models={"trunk": trunk}, optimizers={"trunk_optimizer": opt}, record_keeper=rk,
            label_mapper=lambda labels, level: labels + 100, lr_schedulers={"trunk_scheduler": sched},
            mining_funcs={"tuple_miner": miner}))
    text = " ".join(str(w.message) for w in record)
    assert "record_keeper=" in text and "label_mapper=" in text and "trunk_scheduler_by_epoch" in text
    t.train(num_epochs=2)
    assert [r[0] for r in rk.records] == [i for i in range(8) for _ in range(6)]
    losses_record = rk.records[0][1]
    assert set(losses_record) == {"metric_loss", "total_loss"} and isinstance(losses_record["total_loss"], float)
    assert rk.figures == [3, 7]
    assert all(int(lab.min()) >= 100 for lab in seen_labels)
    assert sched.last_epoch == 2 and opt.param_groups[0]["lr"] == pytest.approx(1e-2 / 4)


# -- mixed precision ------------------------------------------------------------------------------
def test_bf16_autocast_on_cpu_trains_with_float32_losses():
    trunk = mlp()
    inner, loss_in = [], []
    trunk[-1].register_forward_hook(lambda m, a, out: inner.append(out.dtype))
    loss = losses.ContrastiveLoss()
    loss.register_forward_pre_hook(lambda m, args: loss_in.append(args[0].dtype))
    before = full_loss(trunk)
    inner.clear()
    t = trainers.MetricLossOnly(**base_kwargs(models={"trunk": trunk}, optimizers={"trunk_optimizer": adam(trunk)},
                                              loss_funcs={"metric_loss": loss}, mixed_precision="bf16"))
    assert t.grad_scaler is None and t.autocast_dtype is torch.bfloat16
    t.train(num_epochs=3)
    assert set(inner) == {torch.bfloat16} and set(loss_in) == {torch.float32}  # checked before the float32 yardstick
    assert all(p.dtype == torch.float32 and torch.isfinite(p).all() for p in trunk.parameters())
    assert full_loss(trunk) < 0.7 * before


def test_fp16_uses_a_grad_scaler_and_unscales_before_clipping():
    trunk = mlp()
    norms = []

    def clip():
        norms.append(float(torch.nn.utils.clip_grad_norm_(trunk.parameters(), 1e9)))

    t = trainers.MetricLossOnly(**base_kwargs(models={"trunk": trunk}, optimizers={"trunk_optimizer": adam(trunk)},
                                              mixed_precision="fp16", gradient_clippers={"trunk_grad_clipper": clip}))
    assert isinstance(t.grad_scaler, torch.amp.GradScaler)
    t.train(num_epochs=1)
    assert all(np.isfinite(norms)) and max(norms) < 1e3  # unscaled (the scale starts at 65536)
    assert t.state_dict()["grad_scaler"]["scale"] > 0


# -- exact resume ---------------------------------------------------------------------------------
class ResumableShuffle(torch.utils.data.Sampler):
    """A minimal sampler with the library samplers' state protocol (base seed, epoch, position)."""

    def __init__(self, n, seed):
        self.n, self.seed, self.epoch, self.position = n, seed, 0, 0

    def __len__(self):
        return self.n

    def __iter__(self):
        if self.position >= self.n:
            self.epoch, self.position = self.epoch + 1, 0
        perm = np.random.default_rng([self.seed, self.epoch]).permutation(self.n).tolist()
        for p in range(self.position, self.n):
            self.position = p + 1
            if p + 1 == self.n:
                self.epoch, self.position = self.epoch + 1, 0
            yield perm[p]

    def state_dict(self):
        return {"kind": "stub", "base_seed": self.seed, "epoch": self.epoch, "position": self.position, "num_units": self.n}

    def load_state_dict(self, state):
        self.epoch, self.position = int(state["epoch"]), int(state["position"])


EPOCHS, ITERS = 3, 5  # 5 iterations per epoch over 4-batch loader passes: passes end mid-epoch


class _Killed(Exception):
    pass


def build_resume_run(sampler_kind, init_seed, mixed_precision=None, it_hook=None, ep_hook=None):
    torch.manual_seed(init_seed)
    trunk = mlp(seed=init_seed, dropout=0.2)
    embedder = nn.Linear(EMB, EMB)
    cbm = losses.CrossBatchMemory(_learnable_loss(), EMB, memory_size=40, miner=miners.MultiSimilarityMiner(epsilon=0.1))
    metric = losses.MultipleLosses([cbm, losses.TripletMarginLoss(margin=0.5, triplets_per_anchor=2)])
    opts = {
        "trunk_optimizer": adam(trunk),
        "embedder_optimizer": torch.optim.SGD(embedder.parameters(), lr=0.05, momentum=0.9),
        "metric_loss_optimizer": torch.optim.SGD(metric.parameters(), lr=0.01),
    }
    scheds = {
        "trunk_scheduler_by_iteration": torch.optim.lr_scheduler.StepLR(opts["trunk_optimizer"], step_size=3, gamma=0.9),
        "embedder_scheduler_by_epoch": torch.optim.lr_scheduler.StepLR(opts["embedder_optimizer"], step_size=1, gamma=0.8),
    }
    if sampler_kind == "library_m_per_class":  # the samplers package, once it is in the branch
        samplers = pytest.importorskip("agnostic_ml_torch.samplers")
        sampler = samplers.MPerClassSampler(Y, m=4, batch_size=16, length_before_new_iter=64, seed=3)
    else:
        sampler = {
            "shuffle": None,
            "torch_random": torch.utils.data.RandomSampler(DATASET),  # draws from torch's global generator
            "resumable": ResumableShuffle(len(DATASET), seed=3),
        }[sampler_kind]
    kw = base_kwargs(
        models={"trunk": trunk, "embedder": embedder}, optimizers=opts, lr_schedulers=scheds,
        loss_funcs={"metric_loss": metric}, sampler=sampler, iterations_per_epoch=ITERS, early_stopping=5,
        mixed_precision=mixed_precision, end_of_iteration_hook=it_hook, end_of_epoch_hook=ep_hook,
    )
    return trainers.MetricLossOnly(**kw)


def _final_state(t):
    """Every learned number: model weights, loss parameters and the memory queue, optimizer moments."""
    out = {f"models.{k}.{n}": v for k, m in t.models.items() for n, v in m.state_dict().items()}
    out.update({f"loss.{n}": v for n, v in t.loss_funcs["metric_loss"].state_dict().items() if isinstance(v, torch.Tensor)})
    for k, o in t.optimizers.items():
        for pid, s in o.state_dict()["state"].items():
            out.update({f"opt.{k}.{pid}.{n}": v for n, v in s.items() if isinstance(v, torch.Tensor)})
    return {k: v.detach().clone() for k, v in out.items()}, list(t.loss_history)


_UNINTERRUPTED = {}


def uninterrupted(sampler_kind, mixed_precision):
    key = (sampler_kind, mixed_precision)
    if key not in _UNINTERRUPTED:
        t = build_resume_run(sampler_kind, init_seed=1, mixed_precision=mixed_precision)
        t.train(num_epochs=EPOCHS)
        _UNINTERRUPTED[key] = _final_state(t)
    return _UNINTERRUPTED[key]


@pytest.mark.parametrize(
    "sampler_kind,save_at,mixed_precision",
    [
        ("shuffle", "mid_epoch", None),
        ("shuffle", "last_iteration", None),
        ("shuffle", "end_of_epoch", None),
        ("torch_random", "mid_epoch", None),
        ("resumable", "mid_epoch", None),
        ("resumable", "end_of_epoch", None),
        ("library_m_per_class", "mid_epoch", None),
        ("shuffle", "mid_epoch", "fp16"),
    ],
)
def test_resume_in_a_fresh_trainer_ends_bit_for_bit_like_an_uninterrupted_run(tmp_path, sampler_kind, save_at, mixed_precision):
    path = tmp_path / "state.pt"
    # Global iteration 6 is epoch 2, iteration 1 (7 batches: one loader pass and 3 of the next);
    # 9 is the last iteration of epoch 2.
    at = {"mid_epoch": 6, "last_iteration": 9}.get(save_at)

    def it_hook(trainer):
        if at is not None and trainer.get_global_iteration() == at:
            torch.save(trainer.state_dict(), path)
            raise _Killed

    def ep_hook(trainer):
        if save_at == "end_of_epoch" and trainer.epoch == 1:
            torch.save(trainer.state_dict(), path)
            raise _Killed

    first = build_resume_run(sampler_kind, init_seed=1, mixed_precision=mixed_precision, it_hook=it_hook, ep_hook=ep_hook)
    with pytest.raises(_Killed):
        first.train(num_epochs=EPOCHS)
    del first
    state = torch.load(path, weights_only=True)
    assert state["progress"]["epoch"] == (2 if at is not None else 2)
    # A fresh build with other initial weights, other global RNG states and other generators.
    torch.manual_seed(999)
    np.random.seed(999)
    resumed = build_resume_run(sampler_kind, init_seed=7, mixed_precision=mixed_precision)
    resumed.load_state_dict(state)
    resumed.train(num_epochs=EPOCHS)
    got, got_history = _final_state(resumed)
    want, want_history = uninterrupted(sampler_kind, mixed_precision)
    assert got.keys() == want.keys()
    different = [k for k in want if not torch.equal(got[k], want[k])]
    assert not different, f"differ after resume: {different}"
    assert got_history == want_history and len(got_history) == EPOCHS


def test_state_dict_contents_and_load_errors():
    t = build_resume_run("resumable", init_seed=1)
    t.train(num_epochs=1)
    s = t.state_dict()
    assert s["progress"] == {"epoch": 2, "next_iteration": 0, "pending_iteration_schedulers": False,
                             "iterations_per_epoch": ITERS, "epoch_loss_sum": 0.0, "epoch_loss_count": 0}
    assert set(s["loss_funcs"]["metric_loss"]) >= {"losses.0.embedding_memory", "losses.0.loss.pos_margin"}
    assert s["data"]["batches"] == 1 and s["data"]["start"]["sampler"]["epoch"] == 1
    assert "loss_funcs.metric_loss.losses.1" in s["components_rng"]
    other = trainers.TrainWithClassifier(**base_kwargs())
    with pytest.raises(ValueError, match="state is from a MetricLossOnly trainer"):
        other.load_state_dict(s)
    with pytest.raises(ValueError, match="not a trainer state"):
        t.load_state_dict({"models": {}})


def test_same_seed_same_run():
    def run():
        t = build_resume_run("shuffle", init_seed=4)
        t.train(num_epochs=2)
        return _final_state(t)

    (a, ha), (b, hb) = run(), run()
    assert ha == hb and all(torch.equal(a[k], b[k]) for k in a)


# -- docstring examples ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "module",
    ["metric_loss_only", "train_with_classifier", "cascaded_embeddings", "deep_adversarial_metric_learning",
     "unsupervised_embeddings_using_augmentations", "twostream_metric_loss", "early_stopping", "_key_checker",
     "_loss_tracker", "_state", "_data", "_legacy"],
)
def test_docstring_examples(module):
    mod = importlib.import_module(f"agnostic_ml_torch.trainers.{module}")
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
