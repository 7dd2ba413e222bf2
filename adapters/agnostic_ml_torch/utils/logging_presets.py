"""PML's logging presets: the ``HookContainer`` that logs, tests, checkpoints and stops training.

``from pytorch_metric_learning.utils import logging_presets`` becomes
``from agnostic_ml_torch.utils import logging_presets``; the usual PML script works as is::

    record_keeper, _, _ = logging_presets.get_record_keeper("logs", "tensorboard")
    hooks = logging_presets.get_hook_container(record_keeper)
    tester = testers.GlobalEmbeddingSpaceTester(end_of_testing_hook=hooks.end_of_testing_hook)
    end_of_epoch_hook = hooks.end_of_epoch_hook(tester, {"val": val_set}, "models", test_interval=1, patience=2)
    trainer = trainers.MetricLossOnly(..., end_of_iteration_hook=hooks.end_of_iteration_hook,
                                      end_of_epoch_hook=end_of_epoch_hook)
    start_epoch = hooks.load_latest_checkpoint(trainer, "models")   # 1 for a fresh run
    trainer.train(start_epoch, num_epochs)

No ``record-keeper`` package is needed: records go to CSV files always (one per group, see
:mod:`agnostic_ml_torch.utils.record_keeper`) and to TensorBoard when
``torch.utils.tensorboard`` imports.

Checkpoints
-----------
Files keep PML's names, ``<model_folder>/<key>_<epoch>.pth`` for the latest and
``<key>_best<epoch>.pth`` for the best epoch, one per entry of the trainer's ``models``,
``optimizers``, ``lr_schedulers``, ``loss_funcs`` and ``mining_funcs`` that has a
``state_dict`` (a core object without one, e.g. a plain ``agnostic_ml`` miner, is skipped) (plain state dicts:
``torch.load(..., weights_only=True)`` reads them, and a folder PML wrote loads here). When
the trainer has ``state_dict()`` (sampler position, RNG, loss state, ...) the latest set also
holds ``trainer_state_<epoch>.pth``. Reliability:

* every file is written atomically (a temporary file, then a rename): a failed or killed
  write leaves the earlier file whole;
* the set is written trunk *last* and the previous set is deleted trunk *first* only after
  the new one is complete, so a ``trunk_<e>.pth`` exists only for a complete set: a crash
  at any point leaves the previous complete checkpoint loadable;
* a truncated or corrupted file raises :class:`~agnostic_ml_torch._checkpoint.CheckpointError`
  naming it (PML logs a warning and trains on with half-loaded state);
* resuming (:meth:`HookContainer.load_latest_checkpoint`) drops the records written after the
  checkpoint's epoch, so best-model tracking and patience continue exactly.

Differences from PML: the end-of-epoch hook records the accuracies itself when the tester
was built without ``end_of_testing_hook=hooks.end_of_testing_hook`` (PML then finds no
records, treats every epoch as the best and never stops for patience); configuration
errors (unknown ``primary_metric``, a validation split missing from ``dataset_dict``,
``test_interval < 1``) raise before training starts.
"""

from __future__ import annotations

import glob
import os
import re
from typing import Any, Callable, Mapping, Sequence

import torch

from .. import _checkpoint
from . import common_functions as c_f
from .record_keeper import CSVWriter, RecordKeeper, _safe_name, recordable_attributes, scalar_or_none

__all__ = ["HookContainer", "EmptyContainer", "get_record_keeper", "get_hook_container", "RecordKeeper"]

TRAINER_STATE = "trainer_state"


def _objects(trainer: Any, name: str) -> dict[str, Any]:
    """``trainer.<name>`` as a dict (a dict or an ``nn.ModuleDict``; missing or None: empty)."""
    d = getattr(trainer, name, None)
    return dict(d.items()) if callable(getattr(d, "items", None)) else {}


def _saveable(obj: Any) -> bool:
    return callable(getattr(obj, "state_dict", None)) and callable(getattr(obj, "load_state_dict", None))


def _has_state(trainer: Any) -> bool:
    return callable(getattr(trainer, "state_dict", None)) and callable(getattr(trainer, "load_state_dict", None))


class HookContainer:
    """PML's preset hooks, on our record keeper (see the module docstring).

    Parameters
    ----------
    record_keeper : RecordKeeper
    record_group_name_prefix : str, optional
        Prefix of the accuracy groups' names.
    primary_metric : str, default "mean_average_precision_at_r"
        The metric that decides the best epoch.
    validation_split_name : str, default "val"
        The split whose ``primary_metric`` decides the best epoch.
    save_models : bool, default True
        Write checkpoints.
    log_freq : int, default 50
        ``end_of_iteration_hook`` records every ``log_freq`` iterations.
    """

    def __init__(
        self,
        record_keeper: RecordKeeper,
        record_group_name_prefix: str | None = None,
        primary_metric: str = "mean_average_precision_at_r",
        validation_split_name: str = "val",
        save_models: bool = True,
        log_freq: int = 50,
    ) -> None:
        if int(log_freq) < 1:
            raise ValueError(f"log_freq must be a positive int, got {log_freq!r}")
        self.record_keeper = record_keeper
        self.record_group_name_prefix = record_group_name_prefix
        self.saveable_trainer_objects = ["models", "optimizers", "lr_schedulers", "loss_funcs", "mining_funcs"]
        self.primary_metric = primary_metric
        self.validation_split_name = validation_split_name
        self.do_save_models = bool(save_models)
        self.log_freq = int(log_freq)

    # ------------------------------------------------------------------------------------------
    # hooks
    # ------------------------------------------------------------------------------------------
    def end_of_iteration_hook(self, trainer: Any) -> None:
        """Every ``log_freq`` iterations: losses, loss weights, loss/miner statistics and learning rates.

        Groups: ``loss_histories`` (one column per loss and ``total_loss``), ``loss_weights``,
        one group per loss / miner / model key with its collected statistics, and
        ``optimizers`` (``<optimizer key>_lr``). Each row has ``iteration`` (the global
        iteration) and ``epoch``.
        """
        if trainer.iteration % self.log_freq != 0:
            return
        step = self._global_iteration(trainer)
        base = {"iteration": step, "epoch": getattr(trainer, "epoch", 0)}
        tracker = getattr(trainer, "loss_tracker", None)
        losses = getattr(tracker, "losses", None)
        if losses is None:
            losses = getattr(trainer, "losses", None) or {}
        rk = self.record_keeper
        rk.add_row("loss_histories", {**base, **losses}, step="iteration")
        weights = getattr(tracker, "loss_weights", None)
        if weights:
            rk.add_row("loss_weights", {**base, **weights}, step="iteration")
        for attr in ("loss_funcs", "mining_funcs", "models"):
            for key, obj in _objects(trainer, attr).items():
                values = recordable_attributes(obj)
                if values:
                    rk.add_row(str(key), {**base, **values}, step="iteration")
        lrs = {f"{k}_lr": self.optimizer_custom_attr_func(opt)["lr"] for k, opt in _objects(trainer, "optimizers").items()}
        if lrs:
            rk.add_row("optimizers", {**base, **lrs}, step="iteration")

    @staticmethod
    def _global_iteration(trainer: Any) -> int:
        get = getattr(trainer, "get_global_iteration", None)
        if callable(get):
            return int(get())
        ipe = getattr(trainer, "iterations_per_epoch", None) or 0
        return int(trainer.iteration + ipe * (getattr(trainer, "epoch", 1) - 1))

    def end_of_epoch_hook(
        self,
        tester: Any,
        dataset_dict: Mapping[str, Any],
        model_folder: str | os.PathLike,
        test_interval: int = 1,
        patience: int | None = None,
        splits_to_eval: Sequence[Any] | None = None,
        test_collate_fn: Callable[..., Any] | None = None,
    ) -> Callable[[Any], bool]:
        """The trainer's ``end_of_epoch_hook``: test every ``test_interval`` epochs, record, checkpoint.

        The returned ``hook(trainer)`` saves the records, and on test epochs runs
        ``tester.test``, records the accuracies, steps plateau schedulers with the primary
        metric, writes the latest checkpoint (and the best one when the primary metric on
        ``validation_split_name`` improved), and returns ``False`` (stop training) once
        ``epoch - best_epoch > patience``.
        """
        metrics = tester.accuracy_calculator.get_curr_metrics()
        if self.primary_metric not in metrics:
            raise ValueError(f"HookContainer `primary_metric` must be one of: {metrics}")
        if not isinstance(test_interval, int) or isinstance(test_interval, bool) or test_interval < 1:
            raise ValueError(f"test_interval must be a positive int, got {test_interval!r}")
        if patience is not None and (not isinstance(patience, int) or isinstance(patience, bool) or patience < 0):
            raise ValueError(f"patience must be None or a non-negative int, got {patience!r}")
        queries = list(dataset_dict) if splits_to_eval is None else [s[0] for s in splits_to_eval]
        if self.validation_split_name not in queries:
            raise ValueError(
                f"validation_split_name {self.validation_split_name!r} is not among the evaluated splits {queries}: "
                "pass validation_split_name= to get_hook_container"
            )
        os.makedirs(model_folder, exist_ok=True)

        def actual_hook(trainer: Any) -> bool:
            continue_training = True
            if trainer.epoch % test_interval == 0:
                best_epoch = self.save_models_and_eval(
                    trainer, dataset_dict, model_folder, test_interval, tester, splits_to_eval, test_collate_fn
                )
                continue_training = self.patience_remaining(trainer.epoch, best_epoch, patience)
            else:
                self.record_keeper.save_records()
            return continue_training

        return actual_hook

    def end_of_testing_hook(self, tester: Any) -> None:
        """The tester's ``end_of_testing_hook``: record each split's accuracies, ``best_epoch`` and ``best_accuracy``."""
        for split_name, accuracies in tester.all_accuracies.items():
            epoch = accuracies["epoch"]
            group = self.record_group_name(tester, split_name)
            self.record_keeper.add_row(group, accuracies, step="epoch")
            _, _, best_epoch, best_accuracy = self.is_new_best_accuracy(tester, split_name, epoch)
            self.record_keeper.add_row(group, {"epoch": epoch, "best_epoch": best_epoch, "best_accuracy": best_accuracy}, step="epoch")

    def _tester_records_itself(self, tester: Any) -> bool:
        hook = getattr(tester, "end_of_testing_hook", None)
        return getattr(hook, "__self__", None) is self and getattr(hook, "__func__", None) is HookContainer.end_of_testing_hook

    # ------------------------------------------------------------------------------------------
    # saving and loading
    # ------------------------------------------------------------------------------------------
    def _expected(self, trainer: Any) -> list[tuple[str, Any]]:
        """``(file key, object)`` in writing order: everything else first, the trunk last."""
        items: list[tuple[str, Any]] = []
        for attr in reversed(self.saveable_trainer_objects):  # mining_funcs ... models
            items.extend((k, v) for k, v in _objects(trainer, attr).items() if _saveable(v))
        models = _objects(trainer, "models")
        last = "trunk" if "trunk" in models else (next(iter(models)) if models else None)
        if last is not None:
            items = [kv for kv in items if kv[0] != last or kv[1] is not models[last]] + [(last, models[last])]
        return items

    @staticmethod
    def _last_key(trainer: Any) -> str | None:
        models = _objects(trainer, "models")
        return "trunk" if "trunk" in models else (next(iter(models)) if models else None)

    def save_models(self, trainer: Any, model_folder: str | os.PathLike, curr_suffix: Any, prev_suffix: Any = None) -> None:
        """Write the checkpoint set ``<key>_<curr_suffix>.pth`` (trunk last), then delete older sets of the same kind."""
        if not self.do_save_models:
            return
        folder = os.fspath(model_folder)
        best = str(curr_suffix).startswith("best")
        items = self._expected(trainer)
        if not best and _has_state(trainer):
            items = [(TRAINER_STATE, trainer)] + items
        for key, obj in items:
            c_f.save_model(obj, c_f.modelpath_creator(folder, key, curr_suffix))
        self._delete_other_sets(trainer, folder, curr_suffix, best)

    def _delete_other_sets(self, trainer: Any, folder: str, keep_suffix: Any, best: bool) -> None:
        keys = [k for k, _ in self._expected(trainer)]
        last = self._last_key(trainer)
        order = ([last] if last else []) + [k for k in keys if k != last] + [TRAINER_STATE]
        pattern = re.compile(r"_(best)?([0-9]+)\.pth$")
        for key in order:
            for path in glob.glob(os.path.join(glob.escape(folder), f"{glob.escape(key)}_*.pth")):
                m = pattern.search(path)
                if not m or os.path.basename(path) != f"{key}_{m.group(1) or ''}{m.group(2)}.pth":
                    continue
                if bool(m.group(1)) != best or f"{m.group(1) or ''}{m.group(2)}" == str(keep_suffix):
                    continue
                try:
                    os.remove(path)
                except FileNotFoundError:
                    pass

    def _complete_versions(self, trainer: Any, folder: str, best: bool) -> list[int]:
        """Epochs (newest first) whose checkpoint set is complete: every model file exists."""
        last = self._last_key(trainer)
        if last is None:
            return []
        rx = re.compile(rf"^{re.escape(last)}_{'best' if best else ''}([0-9]+)\.pth$")
        epochs = sorted(
            {int(m.group(1)) for p in os.listdir(folder) if (m := rx.match(p))} if os.path.isdir(folder) else set(), reverse=True
        )
        models = list(_objects(trainer, "models"))
        prefix = "best" if best else ""
        return [e for e in epochs if all(os.path.isfile(c_f.modelpath_creator(folder, k, f"{prefix}{e}")) for k in models)]

    def load_latest_saved_models(self, trainer: Any, model_folder: str | os.PathLike, device: Any = None, best: bool = False) -> int:
        """Load the newest complete checkpoint set (the best one with ``best=True``) into the trainer.

        Loads models, optimizers, schedulers, losses and miners (a missing file of a
        non-model object is logged and skipped, as in PML) and, for the latest set, the
        trainer's own state when the trainer has ``load_state_dict`` and the file exists.
        Returns the epoch to start from: ``checkpoint epoch + 1``, or 1 when there is none.

        Raises
        ------
        CheckpointError
            A file of the chosen set is truncated or corrupted (the error names it).
        """
        folder = os.fspath(model_folder)
        versions = self._complete_versions(trainer, folder, best)
        if not versions:
            return 1
        epoch = versions[0]
        suffix = f"best{epoch}" if best else epoch
        map_location = "cpu" if device is None else device
        for key, obj in self._expected(trainer):
            path = c_f.modelpath_creator(folder, key, suffix)
            if not os.path.isfile(path):
                c_f.LOGGER.warning("Could not LOAD %s: the file does not exist", path)
                continue
            c_f.load_model(obj, path, map_location)
            c_f.LOGGER.info("LOAD %s", path)
        state_path = c_f.modelpath_creator(folder, TRAINER_STATE, suffix)
        if not best and _has_state(trainer):
            if os.path.isfile(state_path):
                trainer.load_state_dict(_checkpoint.load_state(state_path, map_location=map_location))
            else:
                c_f.LOGGER.warning("%s does not exist: the trainer's own state (sampler, RNG) is not restored", state_path)
        return epoch + 1

    def load_latest_checkpoint(self, trainer: Any, model_folder: str | os.PathLike, device: Any = None) -> int:
        """Resume: load the latest complete checkpoint (trainer state included) and drop the
        records written after it. Returns the epoch to pass to ``trainer.train(start_epoch, ...)``
        (1 when there is no checkpoint)."""
        start = self.load_latest_saved_models(trainer, model_folder, device=device, best=False)
        if start > 1:
            self.record_keeper.drop_rows_after("epoch", start - 1)
            self.record_keeper.save_records()
        return start

    def save_models_and_eval(
        self,
        trainer: Any,
        dataset_dict: Mapping[str, Any],
        model_folder: str | os.PathLike,
        test_interval: int,
        tester: Any,
        splits_to_eval: Sequence[Any] | None = None,
        collate_fn: Callable[..., Any] | None = None,
    ) -> int | None:
        epoch = trainer.epoch
        models = _objects(trainer, "models")
        tester.test(dataset_dict, epoch, models["trunk"], models.get("embedder"), splits_to_eval, collate_fn)
        if not self._tester_records_itself(tester):
            self.end_of_testing_hook(tester)
        prev_best_epoch, _ = self.get_best_epoch_and_accuracy(tester, self.validation_split_name, ignore_epoch=(epoch,))
        is_new_best, curr_accuracy, best_epoch, _ = self.is_new_best_accuracy(tester, self.validation_split_name, epoch)
        self.record_keeper.save_records()
        step_plateau = getattr(trainer, "step_lr_plateau_schedulers", None)
        if callable(step_plateau):
            step_plateau(curr_accuracy)
        self.save_models(trainer, model_folder, epoch, epoch - test_interval)
        if is_new_best:
            c_f.LOGGER.info("New best accuracy! %s", curr_accuracy)
            prev = f"best{prev_best_epoch}" if prev_best_epoch is not None else None
            self.save_models(trainer, model_folder, f"best{best_epoch}", prev)
        return best_epoch

    def is_new_best_accuracy(self, tester: Any, split_name: str, epoch: int) -> tuple[bool, float, int | None, float]:
        """``(is_new_best, current, best_epoch, best_accuracy)``: the current epoch against the earlier ones."""
        curr_accuracy = self.get_curr_primary_metric(tester, split_name)
        best_epoch, best_accuracy = self.get_best_epoch_and_accuracy(tester, split_name, ignore_epoch=(epoch,))
        is_new_best = False
        if best_epoch is None or curr_accuracy > best_accuracy:
            best_epoch, best_accuracy, is_new_best = epoch, curr_accuracy, True
        return is_new_best, curr_accuracy, best_epoch, best_accuracy

    # ------------------------------------------------------------------------------------------
    # history
    # ------------------------------------------------------------------------------------------
    def _primary_keys(self, tester: Any, metrics: Sequence[str]) -> list[list[str]]:
        """Candidate column names, ``AVERAGE_<m>`` first, then ``<m>_level<L>`` (PML's ``try_keys``)."""
        return [
            [tester.accuracies_keyname(m, average=average, label_hierarchy_level=tester.label_hierarchy_level) for m in metrics]
            for average in (True, False)
        ]

    def get_curr_primary_metric(self, tester: Any, split_name: str) -> float:
        acc = tester.all_accuracies[split_name]
        for (key,) in self._primary_keys(tester, [self.primary_metric]):
            if key in acc:
                return acc[key]
        raise KeyError(f"{self.primary_metric!r} is not in the accuracies of split {split_name!r}: {sorted(acc)}")

    def _primary_column(self, tester: Any, group: str, metrics: Sequence[str]) -> list[str] | None:
        cols = set(self.record_keeper.columns(group))
        for keys in self._primary_keys(tester, metrics):
            if all(k in cols for k in keys):
                return keys
        return None

    def get_best_epoch_and_accuracy(self, tester: Any, split_name: str, ignore_epoch: Sequence[int] = (-1,)) -> tuple[int | None, float]:
        """``(best epoch, its primary metric)`` over the recorded epochs not in ``ignore_epoch``;
        ``(None, 0)`` when there is none. Ties go to the earliest epoch."""
        group = self.record_group_name(tester, split_name)
        keys = self._primary_column(tester, group, [self.primary_metric])
        if keys is None:
            return None, 0
        best: tuple[int | None, float] = (None, 0)
        for row in self.record_keeper.get_records(group):
            e, v = row.get("epoch"), row.get(keys[0])
            if e is None or v is None or e in ignore_epoch or v != v:  # v != v: NaN
                continue
            if best[0] is None or v > best[1]:
                best = (e, v)
        return best

    def get_accuracy_history(
        self, tester: Any, split_name: str, return_all_metrics: bool = False, metrics: Sequence[str] = ()
    ) -> dict[str, list[Any]]:
        """``{"epoch": [...], "<metric key>": [...]}`` of ``split_name`` (every column with ``return_all_metrics``)."""
        group = self.record_group_name(tester, split_name)
        if not self.record_keeper.table_exists(group):
            return {}
        if return_all_metrics:
            cols = self.record_keeper.columns(group)
        else:
            keys = self._primary_column(tester, group, list(metrics) or [self.primary_metric])
            if keys is None:
                raise KeyError(f"metrics {list(metrics) or [self.primary_metric]} are not recorded for split {split_name!r}")
            cols = ["epoch", *keys]
        return {c: self.record_keeper.get_column(group, c) for c in cols}

    def get_loss_history(self, loss_names: Sequence[str] = ()) -> dict[str, list[Any]]:
        """``{"iteration": [...], "<loss>": [...]}`` from the recorded iterations (every loss by default)."""
        group = "loss_histories"
        if not self.record_keeper.table_exists(group):
            return {}
        cols = [c for c in self.record_keeper.columns(group) if c != "epoch"] if not loss_names else ["iteration", *loss_names]
        return {c: self.record_keeper.get_column(group, c) for c in cols}

    def get_accuracies_of_epoch(self, tester: Any, split_name: str, epoch: int, select_all: bool = True) -> list[dict[str, Any]]:
        group = self.record_group_name(tester, split_name)
        return [r for r in self.record_keeper.get_records(group) if r.get("epoch") == epoch]

    def patience_remaining(self, epoch: int, best_epoch: int | None, patience: int | None) -> bool:
        if patience is not None and best_epoch is not None and epoch - best_epoch > patience:
            c_f.LOGGER.info("Validation accuracy has plateaued. Exiting.")
            return False
        return True

    def run_tester_separately(
        self,
        tester: Any,
        dataset_dict: Mapping[str, Any],
        epoch: int,
        trunk: Any,
        embedder: Any,
        splits_to_eval: Sequence[Any] | None = None,
        collate_fn: Callable[..., Any] | None = None,
        skip_eval_if_already_done: bool = True,
    ) -> bool:
        """Test saved models outside training; skip the splits already recorded for ``epoch``."""
        if skip_eval_if_already_done:
            splits_to_eval = self.get_splits_to_eval(tester, dataset_dict, epoch, splits_to_eval)
            if len(splits_to_eval) == 0:
                c_f.LOGGER.info("Already evaluated")
                return False
        tester.test(dataset_dict, epoch, trunk, embedder, splits_to_eval, collate_fn)
        if not self._tester_records_itself(tester):
            self.end_of_testing_hook(tester)
        self.record_keeper.save_records()
        return True

    def get_splits_to_eval(self, tester: Any, dataset_dict: Mapping[str, Any], epoch: int, input_splits_to_eval: Any) -> list[Any]:
        items = [(k, [k]) for k in dataset_dict] if input_splits_to_eval is None else list(input_splits_to_eval)
        out = []
        for item in items:
            query, refs = (item, [item]) if isinstance(item, str) else item
            tester.reference_split_names.setdefault(query, list(refs))
            if not self.get_accuracies_of_epoch(tester, query, epoch):
                out.append((query, list(refs)))
        return out

    # ------------------------------------------------------------------------------------------
    # names
    # ------------------------------------------------------------------------------------------
    def base_record_group_name(self, tester: Any) -> str:
        prefix = f"{self.record_group_name_prefix}_" if self.record_group_name_prefix else ""
        return prefix + tester.description_suffixes("accuracies")

    def record_group_name(self, tester: Any, split_name: str) -> str:
        """``<prefix_>accuracies_<tester description>_<QUERY>_vs_<REFS or self>`` (PML's names)."""
        query = split_name.upper()
        refs = "_and_".join(name.upper() for name in sorted(tester.reference_split_names.get(split_name, [split_name])))
        if refs == query:
            refs = "self"
        return _safe_name(f"{self.base_record_group_name(tester)}_{query}_vs_{refs}")

    def optimizer_custom_attr_func(self, optimizer: Any) -> dict[str, float]:
        return {"lr": optimizer.param_groups[0]["lr"]}


class EmptyContainer:
    """What :func:`get_hook_container` returns without a record keeper: hooks that do nothing."""

    def end_of_epoch_hook(self, *args: Any, **kwargs: Any) -> None:
        return None

    end_of_iteration_hook = None
    end_of_testing_hook = None


def get_record_keeper(
    csv_folder: str | os.PathLike,
    tensorboard_folder: str | os.PathLike | None = None,
    global_db_path: str | None = None,
    experiment_name: str | None = None,
    is_new_experiment: bool = True,
    save_lists: bool = False,
) -> tuple[RecordKeeper, CSVWriter, Any]:
    """``(record_keeper, csv_writer, tensorboard_writer)``, as PML's function returns three objects.

    CSV files go to ``csv_folder`` always; a TensorBoard ``SummaryWriter`` writes to
    ``tensorboard_folder`` when given and ``torch.utils.tensorboard`` imports (otherwise a
    warning, and ``None``). PML's SQLite options (``global_db_path``, ``experiment_name``,
    ``is_new_experiment``, ``save_lists``) have no equivalent here; a ``global_db_path`` is
    ignored with a warning.
    """
    if global_db_path is not None:
        c_f.LOGGER.warning("get_record_keeper: global_db_path (PML's SQLite database) is not supported and is ignored")
    os.makedirs(csv_folder, exist_ok=True)
    writer = None
    if tensorboard_folder is not None:
        try:
            from torch.utils.tensorboard import SummaryWriter  # noqa: PLC0415
        except ImportError as exc:
            c_f.LOGGER.warning("TensorBoard logging is off (%s); records go to CSV only. pip install tensorboard", exc)
        else:
            writer = SummaryWriter(log_dir=os.fspath(tensorboard_folder))
    rk = RecordKeeper(csv_folder, tensorboard_writer=writer)
    return rk, rk.csv_writer, writer


def get_hook_container(record_keeper: RecordKeeper | None, **kwargs: Any) -> HookContainer | EmptyContainer:
    """A :class:`HookContainer` on ``record_keeper`` (an :class:`EmptyContainer` for None, as PML)."""
    if record_keeper:
        return HookContainer(record_keeper, **kwargs)
    c_f.LOGGER.warning("No record_keeper, so no preset hooks are being returned.")
    return EmptyContainer()
