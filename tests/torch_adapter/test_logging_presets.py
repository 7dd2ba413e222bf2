"""Logging presets: the hooks write what they say, checkpoints are atomic and resumable."""

from __future__ import annotations

import csv
import logging
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from agnostic_ml._io import atomic_write  # noqa: E402
from agnostic_ml.accuracy import AccuracyCalculator  # noqa: E402
from agnostic_ml_torch import losses, miners, testers  # noqa: E402
from agnostic_ml_torch._checkpoint import CheckpointError  # noqa: E402
from agnostic_ml_torch.utils import common_functions as c_f  # noqa: E402
from agnostic_ml_torch.utils import logging_presets  # noqa: E402
from agnostic_ml_torch.utils import record_keeper as rk_module  # noqa: E402
from agnostic_ml_torch.utils.record_keeper import RecordKeeper  # noqa: E402

METRICS = ("precision_at_1", "mean_average_precision_at_r")


# ---------------------------------------------------------------------------------------------
# a small PML-style trainer (the attributes the hooks read) with an optional state_dict
# ---------------------------------------------------------------------------------------------
class LossTracker:
    def __init__(self):
        self.losses = {"metric_loss": 0.0, "total_loss": 0.0}
        self.loss_weights = {"metric_loss": 1.0, "total_loss": 1.0}


class TinyTrainer:
    """Trains trunk + embedder with a loss and a miner on random batches drawn from ``data``."""

    def __init__(self, data, seed=0, iterations_per_epoch=6, with_state=True, memory=False, hooks=None, tester=None, folder=None, **hook_kw):
        torch.manual_seed(seed)
        self.models = {"trunk": torch.nn.Linear(6, 5), "embedder": torch.nn.Linear(5, 3)}
        self.optimizers = {f"{k}_optimizer": torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9) for k, m in self.models.items()}
        self.lr_schedulers = {"trunk_scheduler_by_epoch": torch.optim.lr_scheduler.StepLR(self.optimizers["trunk_optimizer"], 1, 0.5)}
        loss = losses.TripletMarginLoss(margin=0.2)
        if memory:
            loss = losses.CrossBatchMemory(loss, embedding_size=3, memory_size=16)
        self.loss_funcs = {"metric_loss": loss}
        self.mining_funcs = {"tuple_miner": miners.MultiSimilarityMiner(epsilon=0.5)}
        self.loss_tracker = LossTracker()
        self.iterations_per_epoch = iterations_per_epoch
        self.x, self.y = data
        self.generator = torch.Generator().manual_seed(seed + 1)
        self.with_state = with_state
        self.end_of_iteration_hook = hooks.end_of_iteration_hook if hooks else None
        self.end_of_epoch_hook = hooks.end_of_epoch_hook(tester, {"val": _val()}, folder, **hook_kw) if hooks else None
        self.epoch, self.iteration = 0, 0

    def get_global_iteration(self):
        return self.iteration + self.iterations_per_epoch * (self.epoch - 1)

    def step_lr_plateau_schedulers(self, value):
        self.plateau_values = getattr(self, "plateau_values", []) + [value]

    def train(self, start_epoch=1, num_epochs=1, kill_after_epoch=None):
        for self.epoch in range(start_epoch, num_epochs + 1):
            for self.iteration in range(self.iterations_per_epoch):
                idx = torch.randint(0, len(self.x), (12,), generator=self.generator)
                for o in self.optimizers.values():
                    o.zero_grad()
                emb = self.models["embedder"](self.models["trunk"](self.x[idx]))
                labels = self.y[idx]
                loss_fn = self.loss_funcs["metric_loss"]
                if isinstance(loss_fn, losses.CrossBatchMemory):
                    loss = loss_fn(emb, labels)
                else:
                    loss = loss_fn(emb, labels, self.mining_funcs["tuple_miner"](emb, labels))
                loss.backward()
                for o in self.optimizers.values():
                    o.step()
                self.loss_tracker.losses = {"metric_loss": loss.detach(), "total_loss": loss.detach()}
                if self.end_of_iteration_hook:
                    self.end_of_iteration_hook(self)
            for s in self.lr_schedulers.values():
                s.step()
            if self.end_of_epoch_hook and self.end_of_epoch_hook(self) is False:
                return "stopped"
            if kill_after_epoch == self.epoch:
                return "killed"
        return "done"

    # what the trainers helper's state_dict adds (sampler/RNG state); present or absent
    def __getattr__(self, name):
        if name in ("state_dict", "load_state_dict") and self.__dict__.get("with_state"):
            return getattr(self, "_" + name)
        raise AttributeError(name)

    def _state_dict(self):
        return {"generator": self.generator.get_state(), "epoch": self.epoch}

    def _load_state_dict(self, state):
        self.generator.set_state(state["generator"])


def _train_data(seed=0):
    g = np.random.default_rng(seed)
    y = g.integers(0, 4, size=48)
    x = g.normal(size=(4, 6))[y] * 2 + g.normal(size=(48, 6))
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y)


def _val():
    x, y = _train_data(7)
    return c_f.EmbeddingDataset(x[:24], y[:24])


def _setup(tmp_path, name="run", **kw):
    record_keeper, _, _ = logging_presets.get_record_keeper(tmp_path / name / "logs")
    hooks = logging_presets.get_hook_container(record_keeper, log_freq=kw.pop("log_freq", 2))
    tester = kw.pop("tester", None) or testers.GlobalEmbeddingSpaceTester(
        dataloader_num_workers=0,
        accuracy_calculator=AccuracyCalculator(include=METRICS),
        end_of_testing_hook=hooks.end_of_testing_hook,
    )
    folder = tmp_path / name / "models"
    trainer = TinyTrainer(_train_data(), hooks=hooks, tester=tester, folder=folder, **kw)
    return trainer, hooks, tester, folder


def _read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _weights(trainer):
    return {k: {n: t.detach().clone() for n, t in m.state_dict().items()} for k, m in trainer.models.items()}


def _same(a, b):
    return all(torch.equal(a[k][n], b[k][n]) for k in a for n in a[k])


# ---------------------------------------------------------------------------------------------
def test_hooks_write_records_and_checkpoints(tmp_path) -> None:
    trainer, hooks, tester, folder = _setup(tmp_path)
    assert trainer.train(1, 3) == "done"
    logs = tmp_path / "run" / "logs"
    loss_rows = _read_csv(logs / "loss_histories.csv")
    assert [int(r["iteration"]) for r in loss_rows] == [0, 2, 4, 6, 8, 10, 12, 14, 16]  # every log_freq=2 of 6 x 3
    assert {int(r["epoch"]) for r in loss_rows} == {1, 2, 3} and all(float(r["metric_loss"]) >= 0 for r in loss_rows)
    lrs = _read_csv(logs / "optimizers.csv")
    assert float(lrs[-1]["trunk_optimizer_lr"]) == pytest.approx(0.1 * 0.5**2) and float(lrs[-1]["embedder_optimizer_lr"]) == 0.1
    group = hooks.record_group_name(tester, "val")
    assert group == "accuracies_normalized_GlobalEmbeddingSpaceTester_level_0_VAL_vs_self"
    acc = _read_csv(logs / f"{group}.csv")
    assert [int(r["epoch"]) for r in acc] == [1, 2, 3]
    assert set(acc[0]) == {"epoch", "precision_at_1_level0", "mean_average_precision_at_r_level0", "best_epoch", "best_accuracy"}
    history = hooks.get_accuracy_history(tester, "val")
    assert history["epoch"] == [1, 2, 3]
    best_epoch, best_acc = hooks.get_best_epoch_and_accuracy(tester, "val")
    assert best_acc == max(history["mean_average_precision_at_r_level0"])
    assert int(acc[-1]["best_epoch"]) == best_epoch
    assert trainer.plateau_values == history["mean_average_precision_at_r_level0"]
    assert hooks.get_loss_history(["metric_loss"])["iteration"] == [0, 2, 4, 6, 8, 10, 12, 14, 16]
    # checkpoints: the latest set (epoch 3) and the best set, PML's names, weights-only loadable
    names = sorted(os.listdir(folder))
    keys = ["embedder", "embedder_optimizer", "metric_loss", "trunk", "trunk_optimizer", "trunk_scheduler_by_epoch", "tuple_miner"]
    latest = sorted([f"{k}_3.pth" for k in keys] + ["trainer_state_3.pth"])
    best = sorted(f"{k}_best{best_epoch}.pth" for k in keys)
    assert names == sorted(latest + best)
    for name in names:
        torch.load(folder / name, weights_only=True)
    trunk = torch.load(folder / "trunk_3.pth", weights_only=True)
    assert all(torch.equal(trunk[n], t) for n, t in trainer.models["trunk"].state_dict().items())


def test_best_model_and_patience_stop(tmp_path) -> None:
    scripted = {1: 0.5, 2: 0.7, 3: 0.6, 4: 0.65, 5: 0.9}

    class Scripted(testers.GlobalEmbeddingSpaceTester):
        def do_knn_and_accuracies(self, accuracies, embeddings_and_labels, query_split_name, reference_split_names):
            self.label_levels = [0]
            epoch = accuracies["epoch"]
            accuracies["precision_at_1_level0"] = 1.0
            accuracies["mean_average_precision_at_r_level0"] = scripted[epoch]

    weights_at = {}
    tester = Scripted(dataloader_num_workers=0, accuracy_calculator=AccuracyCalculator(include=METRICS))  # no end_of_testing_hook
    trainer, hooks, _, folder = _setup(tmp_path, tester=tester, patience=1)
    original = trainer.end_of_epoch_hook

    def remember(t):
        weights_at[t.epoch] = _weights(t)
        return original(t)

    trainer.end_of_epoch_hook = remember
    assert trainer.train(1, 5) == "stopped"
    assert trainer.epoch == 4  # 4 - best epoch 2 > patience 1
    # recorded although the tester has no end_of_testing_hook (PML would record nothing)
    assert hooks.get_accuracy_history(tester, "val")["mean_average_precision_at_r_level0"] == [0.5, 0.7, 0.6, 0.65]
    assert hooks.get_best_epoch_and_accuracy(tester, "val") == (2, 0.7)
    assert sorted(p for p in os.listdir(folder) if p.startswith("trunk_") and p.count("_") == 1) == ["trunk_4.pth", "trunk_best2.pth"]
    assert len(os.listdir(folder)) == 8 + 7  # the latest set with the trainer's state, the best set
    best = torch.load(folder / "trunk_best2.pth", weights_only=True)
    assert all(torch.equal(best[n], weights_at[2]["trunk"][n]) for n in best)
    fresh = TinyTrainer(_train_data(), seed=99)
    assert hooks.load_latest_saved_models(fresh, folder, best=True) == 3
    assert _same(_weights(fresh), weights_at[2])


def test_test_interval_and_config_errors(tmp_path) -> None:
    trainer, hooks, tester, folder = _setup(tmp_path, test_interval=2)
    trainer.train(1, 3)
    assert hooks.get_accuracy_history(tester, "val")["epoch"] == [2]
    assert "loss_histories.csv" in os.listdir(tmp_path / "run" / "logs")  # saved on non-test epochs too
    with pytest.raises(ValueError, match="primary_metric"):
        logging_presets.HookContainer(hooks.record_keeper, primary_metric="NMI").end_of_epoch_hook(tester, {"val": _val()}, folder)
    with pytest.raises(ValueError, match="validation_split_name"):
        hooks.end_of_epoch_hook(tester, {"test": _val()}, folder)
    with pytest.raises(ValueError, match="test_interval"):
        hooks.end_of_epoch_hook(tester, {"val": _val()}, folder, test_interval=0)
    with pytest.raises(ValueError, match="patience"):
        hooks.end_of_epoch_hook(tester, {"val": _val()}, folder, patience=-1)
    assert logging_presets.get_hook_container(None).end_of_iteration_hook is None


def test_resume_equals_uninterrupted_run(tmp_path) -> None:
    full, _, _, _ = _setup(tmp_path, "full", memory=True)
    full.train(1, 4)
    part, _, _, folder = _setup(tmp_path, "part", memory=True)
    assert part.train(1, 4, kill_after_epoch=2) == "killed"
    # a new process: fresh objects, other initial weights, then resume
    resumed, hooks, tester, _ = _setup(tmp_path, "part", memory=True, seed=123)
    resumed.generator = torch.Generator().manual_seed(555)
    start = hooks.load_latest_checkpoint(resumed, folder)
    assert start == 3
    resumed.train(start, 4)
    assert _same(_weights(resumed), _weights(full))
    mem_a, mem_b = resumed.loss_funcs["metric_loss"].embedding_memory, full.loss_funcs["metric_loss"].embedding_memory
    assert torch.equal(mem_a, mem_b)  # the loss's state (the memory queue) was restored too
    for o_a, o_b in zip(resumed.optimizers.values(), full.optimizers.values()):
        assert o_a.param_groups[0]["lr"] == o_b.param_groups[0]["lr"]
    ours = _read_csv(tmp_path / "part" / "logs" / f"{hooks.record_group_name(tester, 'val')}.csv")
    want = _read_csv(tmp_path / "full" / "logs" / f"{hooks.record_group_name(tester, 'val')}.csv")
    assert ours == want
    assert _read_csv(tmp_path / "part" / "logs" / "loss_histories.csv") == _read_csv(tmp_path / "full" / "logs" / "loss_histories.csv")


def test_resume_drops_records_written_after_the_checkpoint(tmp_path) -> None:
    trainer, hooks, tester, folder = _setup(tmp_path)
    trainer.train(1, 2)
    # records of a third epoch whose checkpoint never got written (killed in between)
    hooks.record_keeper.add_row("loss_histories", {"iteration": 12, "epoch": 3, "metric_loss": 1.0})
    hooks.record_keeper.save_records()
    again, hooks2, _, _ = _setup(tmp_path)
    assert hooks2.load_latest_checkpoint(again, folder) == 3
    assert max(hooks2.get_loss_history()["iteration"]) == 10
    assert max(r["epoch"] for r in hooks2.record_keeper.get_records("loss_histories")) == 2


def test_failed_checkpoint_write_keeps_the_previous_one(tmp_path, monkeypatch) -> None:
    trainer, hooks, tester, folder = _setup(tmp_path)
    trainer.train(1, 2)
    before = {p: (folder / p).read_bytes() for p in os.listdir(folder)}
    real_save = torch.save

    def failing_save(obj, f, *a, **kw):
        real_save(obj, f, *a, **kw)
        f.seek(0)
        f.truncate(10)  # half a file...
        raise OSError("No space left on device")  # ...and the write fails

    monkeypatch.setattr(torch, "save", failing_save)
    with pytest.raises(OSError, match="No space"):
        trainer.train(3, 3)
    monkeypatch.undo()
    after = {p: (folder / p).read_bytes() for p in os.listdir(folder)}
    assert after == before  # nothing replaced, no temporary file left behind
    fresh = TinyTrainer(_train_data(), seed=5)
    assert hooks.load_latest_saved_models(fresh, folder) == 3


def test_crash_in_the_middle_of_a_set_falls_back_to_the_complete_one(tmp_path, monkeypatch) -> None:
    trainer, hooks, tester, folder = _setup(tmp_path)
    trainer.train(1, 2)
    weights_2 = _weights(trainer)
    real = c_f.save_model

    def crash_on_trunk(model, path):
        if os.path.basename(path) == "trunk_3.pth":
            raise KeyboardInterrupt  # killed after the other files of epoch 3 were written
        real(model, path)

    monkeypatch.setattr(c_f, "save_model", crash_on_trunk)
    with pytest.raises(KeyboardInterrupt):
        trainer.train(3, 3)
    monkeypatch.undo()
    assert (folder / "embedder_3.pth").exists() and not (folder / "trunk_3.pth").exists()
    fresh = TinyTrainer(_train_data(), seed=5)
    assert hooks.load_latest_saved_models(fresh, folder) == 3  # epoch 2 is the newest complete set
    assert _same(_weights(fresh), weights_2)
    assert c_f.latest_version(str(folder), "trunk_[0-9]*.pth") == (2, 2)


def test_corrupted_checkpoint_gives_a_clear_error(tmp_path) -> None:
    trainer, hooks, tester, folder = _setup(tmp_path)
    trainer.train(1, 2)
    target = folder / "embedder_2.pth"
    data = target.read_bytes()
    target.write_bytes(data[: len(data) // 2])
    fresh = TinyTrainer(_train_data(), seed=5)
    with pytest.raises(CheckpointError, match="embedder_2.pth.*truncated or corrupted"):
        hooks.load_latest_saved_models(fresh, folder)
    assert target.read_bytes() == data[: len(data) // 2]  # left as it was
    target.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="embedder_2.pth"):
        c_f.load_model(fresh.models["embedder"], target)


def test_pml_trainer_runs_with_our_hooks_and_tester(tmp_path) -> None:
    pml_trainers = pytest.importorskip("pytorch_metric_learning.trainers")
    pytest.importorskip("faiss")  # PML's trainer module imports its testers' dependencies
    record_keeper, _, _ = logging_presets.get_record_keeper(tmp_path / "logs")
    hooks = logging_presets.get_hook_container(record_keeper, log_freq=1)
    tester = testers.GlobalEmbeddingSpaceTester(
        dataloader_num_workers=0, end_of_testing_hook=hooks.end_of_testing_hook, accuracy_calculator=AccuracyCalculator(include=METRICS)
    )
    x, y = _train_data()
    torch.manual_seed(0)
    models = {"trunk": torch.nn.Linear(6, 4), "embedder": torch.nn.Linear(4, 3)}
    optimizers = {f"{k}_optimizer": torch.optim.Adam(m.parameters(), lr=1e-2) for k, m in models.items()}

    def make(models, optimizers, end_of_epoch_hook=None):
        return pml_trainers.MetricLossOnly(
            models=models,
            optimizers=optimizers,
            batch_size=16,
            loss_funcs={"metric_loss": losses.TripletMarginLoss(margin=0.1)},
            mining_funcs={"tuple_miner": miners.MultiSimilarityMiner(epsilon=0.1)},
            dataset=c_f.EmbeddingDataset(x, y),
            data_device=torch.device("cpu"),
            dataloader_num_workers=0,
            end_of_iteration_hook=hooks.end_of_iteration_hook,
            end_of_epoch_hook=end_of_epoch_hook,
        )

    trainer = make(models, optimizers, hooks.end_of_epoch_hook(tester, {"val": _val()}, tmp_path / "models"))
    trainer.train(num_epochs=2)
    assert hooks.get_accuracy_history(tester, "val")["epoch"] == [1, 2]
    assert len(hooks.get_loss_history()["metric_loss"]) == 2 * trainer.iterations_per_epoch
    torch.manual_seed(1)
    other = {"trunk": torch.nn.Linear(6, 4), "embedder": torch.nn.Linear(4, 3)}
    other_trainer = make(other, {f"{k}_optimizer": torch.optim.Adam(m.parameters(), lr=1e-2) for k, m in other.items()})
    assert hooks.load_latest_saved_models(other_trainer, tmp_path / "models") == 3
    assert all(torch.equal(a, b) for a, b in zip(other["trunk"].parameters(), models["trunk"].parameters()))


# ---------------------------------------------------------------------------------------------
# the record keeper
# ---------------------------------------------------------------------------------------------
class FakeWriter:
    def __init__(self):
        self.scalars = []

    def add_scalar(self, tag, value, step):
        self.scalars.append((tag, value, step))


def test_record_keeper_csv_tensorboard_and_rewrites(tmp_path) -> None:
    tb = FakeWriter()
    rk = RecordKeeper(tmp_path, tensorboard_writer=tb)
    rk.add_row("acc", {"epoch": 1, "p1": 0.5, "note": "text is dropped"})
    rk.add_row("acc", {"epoch": 1, "best_epoch": 1})  # same step: merged into the row
    rk.add_row("acc", {"epoch": 2, "p1": torch.tensor(0.75)})
    rk.save_records()
    assert _read_csv(tmp_path / "acc.csv") == [{"epoch": "1", "p1": "0.5", "best_epoch": "1"}, {"epoch": "2", "p1": "0.75", "best_epoch": ""}]
    assert tb.scalars == [("acc/p1", 0.5, 1), ("acc/best_epoch", 1, 1), ("acc/p1", 0.75, 2)]
    again = RecordKeeper(tmp_path)
    assert again.get_records("acc") == [{"epoch": 1, "p1": 0.5, "best_epoch": 1}, {"epoch": 2, "p1": 0.75}]
    again.add_row("acc", {"epoch": 1, "p1": 0.1})  # a restarted run rewrites the history from epoch 1
    assert again.get_column("acc", "p1") == [0.1]
    with pytest.raises(ValueError, match="step column"):
        again.add_row("acc", {"p1": 1.0})
    rk.update_records({"metric_loss": 0.5, "total_loss": 0.5}, 10, parent_name="loss_histories")
    assert rk.get_records("loss_histories") == [{"iteration": 10, "metric_loss": 0.5, "total_loss": 0.5}]


def test_failed_csv_write_keeps_the_previous_file(tmp_path, monkeypatch) -> None:
    rk = RecordKeeper(tmp_path)
    rk.add_row("acc", {"epoch": 1, "p1": 0.5})
    rk.save_records()
    before = (tmp_path / "acc.csv").read_text()

    def broken(path, text, **kw):
        with atomic_write(path, "w") as f:
            f.write(text[:7])
            raise OSError("disk full")

    monkeypatch.setattr(rk_module, "atomic_write_text", broken)
    rk.add_row("acc", {"epoch": 2, "p1": 0.6})
    with pytest.raises(OSError, match="disk full"):
        rk.save_records()
    assert (tmp_path / "acc.csv").read_text() == before
    assert os.listdir(tmp_path) == ["acc.csv"]


def test_get_record_keeper_tensorboard_when_available(tmp_path, caplog) -> None:
    # other tests quieten the "PML" logger (tests/pml sets it to ERROR): listen to it directly
    caplog.set_level(logging.WARNING, logger=c_f.LOGGER.name)
    c_f.LOGGER.addHandler(caplog.handler)
    try:
        rk, writer, tb = logging_presets.get_record_keeper(tmp_path / "csv", tmp_path / "tb", global_db_path="x.db")
    finally:
        c_f.LOGGER.removeHandler(caplog.handler)
    assert writer.folder == tmp_path / "csv" and (tmp_path / "csv").is_dir()
    try:
        import torch.utils.tensorboard  # noqa: F401
    except ImportError:
        assert tb is None and "TensorBoard logging is off" in caplog.text
    else:
        assert tb is not None and rk.tensorboard_writer is tb
        tb.close()
    assert "global_db_path" in caplog.text


def test_stats_of_losses_and_miners_are_recorded(tmp_path) -> None:
    trainer, hooks, tester, folder = _setup(tmp_path)
    trainer.mining_funcs["tuple_miner"].collect_stats = True
    trainer.iteration, trainer.epoch = 0, 1
    emb = torch.randn(8, 3)
    trainer.mining_funcs["tuple_miner"](emb, torch.tensor([0, 0, 1, 1, 2, 2, 3, 3]))
    hooks.end_of_iteration_hook(trainer)
    rows = hooks.record_keeper.get_records("tuple_miner")
    assert rows and rows[0]["iteration"] == 0 and len(rows[0]) > 2


# ---------------------------------------------------------------------------------------------
# common_functions' model files
# ---------------------------------------------------------------------------------------------
def test_save_and_load_model_strip_module_prefix(tmp_path) -> None:
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    c_f.save_model(torch.nn.DataParallel(model), tmp_path / "m.pth")  # saved unwrapped
    assert set(torch.load(tmp_path / "m.pth", weights_only=True)) == {"weight", "bias"}
    torch.save({f"module.{k}": v for k, v in model.state_dict().items()}, tmp_path / "dp.pth")  # PML/DataParallel style
    other = torch.nn.Linear(3, 2)
    c_f.load_model(other, tmp_path / "dp.pth", "cpu")
    assert torch.equal(other.weight, model.weight)
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        c_f.load_model(other, tmp_path / "nope.pth")
    torch.save({"weight": Unsafe()}, tmp_path / "pickled.pth")  # not a plain state dict
    with pytest.raises(CheckpointError, match="weights_only"):
        c_f.load_model(other, tmp_path / "pickled.pth")


class Unsafe:
    pass


def test_module_dicts_and_objects_without_state(tmp_path) -> None:
    from agnostic_ml import miners as core_miners

    trainer, hooks, tester, folder = _setup(tmp_path)
    trainer.models = torch.nn.ModuleDict(trainer.models)  # a ModuleDict works like a dict
    trainer.mining_funcs = {"tuple_miner": core_miners.BatchHardMiner()}  # a core miner: no state_dict, not saved
    hooks.save_models(trainer, folder, 1)
    names = sorted(os.listdir(folder))
    assert "trunk_1.pth" in names and "embedder_1.pth" in names and not any(n.startswith("tuple_miner") for n in names)
    fresh = TinyTrainer(_train_data(), seed=3)
    fresh.models = torch.nn.ModuleDict(fresh.models)
    assert hooks.load_latest_saved_models(fresh, folder) == 2
    assert _same(_weights(fresh), _weights(trainer))
