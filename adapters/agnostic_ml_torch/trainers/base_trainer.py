"""``BaseTrainer``: PML 2.9's training loop, with checks up front, mixed precision and exact resume."""

from __future__ import annotations

import contextlib
import logging
import re
import warnings
from collections.abc import Mapping
from typing import Any, Callable, Iterator

import numpy as np
import torch
from torch import nn
from torch.utils.data import DistributedSampler

from . import _data, _legacy, _resume
from ._data import LabelMapper, process_label, return_input, to_device
from ._key_checker import KeyChecker, KeyCheckerDict
from ._loss_tracker import LossTracker
from ._resume import STATE_FORMAT
from ._state import capture_rng_state, derived_generator, restore_rng_state, seed_everything
from .early_stopping import EarlyStopping

__all__ = ["BaseTrainer", "STATE_FORMAT"]

LOGGER = logging.getLogger("agnostic_ml")

_MIXED_PRECISION = {
    "bf16": torch.bfloat16,
    "bfloat16": torch.bfloat16,
    "fp16": torch.float16,
    "float16": torch.float16,
}

def _positive_int(value: Any, name: str, owner: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < 1:
        raise ValueError(f"{owner}: {name} must be a positive int, got {value!r}")
    return int(value)


def _as_dict(value: Any, name: str, owner: str, *, allow_none: bool = True) -> dict | None:
    if value is None:
        if allow_none:
            return None
        raise TypeError(f"{owner}: {name} must be a dict, got None")
    if not isinstance(value, Mapping):
        raise TypeError(f"{owner}: {name} must be a dict, got {type(value).__name__}")
    return dict(value)


def _has_grads(optimizer: Any) -> bool:
    return any(p.grad is not None for g in optimizer.param_groups for p in g["params"])


class BaseTrainer:
    """PML's ``BaseTrainer``: the loop that batches, embeds, mines, weighs losses and steps.

    Arguments, defaults, attributes (``epoch``, ``iteration``, ``losses``, ``loss_tracker``,
    ``models``, ``optimizers``, ``loss_funcs``, ``mining_funcs``, ``lr_schedulers``,
    ``dataloader``, ``iterations_per_epoch``, ...) and the order of operations are PML 2.9's,
    so hooks written for PML work. Each iteration: zero the losses and gradients ->
    ``update_loss_weights`` -> get a batch (a new loader iterator when one ends) ->
    optional ``subset_batch_miner`` (eval mode, no grad) -> ``calculate_loss`` (embeddings,
    optional ``tuple_miner``, losses) -> weighted total (:class:`LossTracker`):
    :math:`L = \\sum_k w_k L_k` -> backward -> gradient clippers -> step the optimizers of
    models not in ``freeze_these`` -> ``end_of_iteration_hook(trainer)`` -> step the
    ``*_scheduler_by_iteration`` schedulers. After ``iterations_per_epoch`` iterations
    (default ``len(dataloader)``, drop-last batches): step ``*_scheduler_by_epoch``, zero
    the losses, and stop if ``end_of_epoch_hook(trainer)`` returns False (PML's early
    stopping). ``*_scheduler_by_plateau`` schedulers are stepped by
    :meth:`step_lr_plateau_schedulers` (the logging hooks call it with the validation score).

    **Checked at construction** (``ValueError`` naming the argument, the key and what is
    allowed), so nothing fails after the first batch: every key of ``models``
    (``trunk`` required, ``embedder`` optional: Identity), ``optimizers``
    (``<model or loss>_optimizer``), ``lr_schedulers``
    (``<model or loss>_scheduler_by_iteration|_by_epoch|_by_plateau``), ``gradient_clippers``
    (``<model or loss>_grad_clipper``), ``loss_funcs``, ``mining_funcs``, ``loss_weights``
    (every loss) and ``freeze_these``; the losses the trainer computes are present; every
    model or loss with trainable parameters is updated by some optimizer unless it is in
    ``freeze_these``; the dataset is not empty and yields at least one batch; with an
    M-per-class sampler (one with an ``m_per_class`` or ``m`` attribute), ``batch_size`` is a
    multiple of ``m``, ``m`` x classes >= ``batch_size`` and the sampler's own batch size
    (if any) equals ``batch_size``. PML asserts some of these, warns about others and fails
    at the first batch on the rest.

    **The PML 0.9 spellings** (seed 004) still work and emit a ``FutureWarning`` naming the
    modern one: ``mining_funcs`` keys ``pre_gradient_miner`` / ``post_gradient_miner``
    (now ``subset_batch_miner`` / ``tuple_miner``), ``lr_schedulers`` keys
    ``<name>_scheduler`` (stepped per epoch, as 0.9 did; now ``<name>_scheduler_by_epoch``),
    datasets whose items are dicts ``{"data": x, "label": y}`` (read with
    ``batch["data"]`` or ``batch["image"]`` and ``batch["label"]``), ``record_keeper=``
    (a record-keeper ``RecordKeeper``: ``update_records`` is called every iteration with
    the losses, loss weights, losses, miners, models and optimizers' learning rates, as in
    0.9; now: the logging hooks) and ``label_mapper=`` (a function ``(labels, level) ->
    labels``; now ``set_min_label_to_zero`` with ``dataset_labels``).

    **Beyond PML** (keyword-only arguments):

    - ``mixed_precision=None | "bf16" | "fp16"``: every model runs under ``torch.autocast``
      on ``data_device``'s type and its floating outputs are cast to float32 before losses
      and miners, so distances, log-sum-exps, learnable loss weights and memory queues stay
      float32 (the failure modes of PML#121, #233, #309). ``"fp16"`` adds a
      ``torch.amp.GradScaler`` (gradients are unscaled before the clippers; its state is
      part of :meth:`state_dict`).
    - ``progress_bar=True``: a tqdm bar per epoch showing the running mean ``total_loss``.
    - ``early_stopping=None | int | EarlyStopping``: an int is a patience on the epoch's
      mean training loss (see :class:`EarlyStopping`); ``loss_history`` holds that mean per
      epoch. Returning False from ``end_of_epoch_hook`` still stops, as in PML.
    - ``seed=None | int``: seeds the loader's generator (shuffling, worker seeds), the
      trainer's own generator (``rng``), the NumPy generator (``rng`` attribute) of every
      loss and miner (and their submodules), and, when the first :meth:`train` call starts
      a fresh run, Python's, NumPy's and torch's global generators. Same seed, same run.
      Without a seed, the loader's and trainer's generators are drawn from torch's global
      generator at construction.
    - :meth:`state_dict` / :meth:`load_state_dict`: everything needed to continue a run
      exactly (see :meth:`state_dict`).

    Other differences from PML (fixes): the dicts passed in are copied, not modified (PML
    adds the Identity embedder to the caller's ``models``); a step whose ``total_loss`` has
    no gradient is skipped instead of raising; key patterns must match whole keys; the data
    stream continues across :meth:`train` calls instead of restarting (PML builds a new
    loader each call), which is also what makes a resumed run equal an uninterrupted one.

    Parameters
    ----------
    models, optimizers, batch_size, loss_funcs, dataset, mining_funcs, iterations_per_epoch,
    data_device, dtype, loss_weights, sampler, collate_fn, lr_schedulers, gradient_clippers,
    freeze_these, freeze_trunk_batchnorm, label_hierarchy_level, dataloader_num_workers,
    data_and_label_getter, dataset_labels, set_min_label_to_zero, end_of_iteration_hook,
    end_of_epoch_hook
        PML 2.9's arguments, same meaning and defaults.
    mixed_precision, progress_bar, early_stopping, seed
        See above.
    record_keeper, label_mapper
        PML 0.9's arguments (``FutureWarning``).
    """

    def __init__(
        self,
        models: Mapping[str, nn.Module],
        optimizers: Mapping[str, Any] | None,
        batch_size: int,
        loss_funcs: Mapping[str, Any],
        dataset: Any,
        mining_funcs: Mapping[str, Any] | None = None,
        iterations_per_epoch: int | None = None,
        data_device: Any = None,
        dtype: torch.dtype | None = None,
        loss_weights: Mapping[str, float] | None = None,
        sampler: Any = None,
        collate_fn: Callable | None = None,
        lr_schedulers: Mapping[str, Any] | None = None,
        gradient_clippers: Mapping[str, Callable[[], Any]] | None = None,
        freeze_these: Any = (),
        freeze_trunk_batchnorm: bool = False,
        label_hierarchy_level: Any = 0,
        dataloader_num_workers: int = 2,
        data_and_label_getter: Callable | None = None,
        dataset_labels: Any = None,
        set_min_label_to_zero: bool = False,
        end_of_iteration_hook: Callable | None = None,
        end_of_epoch_hook: Callable | None = None,
        *,
        mixed_precision: Any = None,
        progress_bar: bool = True,
        early_stopping: int | EarlyStopping | None = None,
        seed: int | None = None,
        record_keeper: Any = None,
        label_mapper: Callable | None = None,
    ) -> None:
        owner = type(self).__name__
        self.models = _as_dict(models, "models", owner, allow_none=False)
        for k, v in self.models.items():
            if not isinstance(v, nn.Module):
                raise TypeError(f"{owner}: models[{k!r}] must be a torch.nn.Module, got {type(v).__name__}")
        self.optimizers = _as_dict(optimizers, "optimizers", owner) or {}
        self.batch_size = _positive_int(batch_size, "batch_size", owner)
        self.loss_funcs = _as_dict(loss_funcs, "loss_funcs", owner, allow_none=False)
        for k, v in self.loss_funcs.items():
            if not callable(v):
                raise TypeError(f"{owner}: loss_funcs[{k!r}] must be a loss (callable), got {type(v).__name__}")
        if dataset is None:
            raise ValueError(f"{owner}: dataset is required")
        self.dataset = dataset
        self.mining_funcs = _legacy.rename_miners(owner, _as_dict(mining_funcs, "mining_funcs", owner) or {})
        self.iterations_per_epoch = (
            None if iterations_per_epoch is None else _positive_int(iterations_per_epoch, "iterations_per_epoch", owner)
        )
        self.data_device = data_device
        self.dtype = dtype
        self.loss_weights = _as_dict(loss_weights, "loss_weights", owner)
        self.sampler = sampler
        self.collate_fn = collate_fn
        self.lr_schedulers = _legacy.rename_schedulers(owner, _as_dict(lr_schedulers, "lr_schedulers", owner))
        self.gradient_clippers = _as_dict(gradient_clippers, "gradient_clippers", owner)
        if isinstance(freeze_these, str):
            raise TypeError(f"{owner}: freeze_these must be a list or tuple of keys, got the string {freeze_these!r}")
        self.freeze_these = tuple(freeze_these or ())
        self.freeze_trunk_batchnorm = bool(freeze_trunk_batchnorm)
        self.label_hierarchy_level = label_hierarchy_level
        if isinstance(dataloader_num_workers, bool) or not isinstance(dataloader_num_workers, int) or dataloader_num_workers < 0:
            raise ValueError(f"{owner}: dataloader_num_workers must be an int >= 0, got {dataloader_num_workers!r}")
        self.dataloader_num_workers = dataloader_num_workers
        self.data_and_label_getter = data_and_label_getter
        self.dataset_labels = dataset_labels
        self.set_min_label_to_zero = set_min_label_to_zero
        self.end_of_iteration_hook = end_of_iteration_hook
        self.end_of_epoch_hook = end_of_epoch_hook
        self.progress_bar = bool(progress_bar)
        self._legacy_label_mapper = _legacy.check_label_mapper(owner, label_mapper)
        self.record_keeper = _legacy.check_record_keeper(owner, record_keeper)
        self.loss_names = list(self.loss_funcs.keys())
        self.custom_setup()
        self.verify_dict_keys()
        self.initialize_models()
        self.initialize_data_device()
        self.initialize_label_mapper()
        self.initialize_loss_tracker()
        self.initialize_loss_weights()
        self.initialize_data_and_label_getter()
        self.initialize_hooks()
        self.initialize_lr_schedulers()
        # Beyond PML: everything that would otherwise fail (or silently do nothing) later.
        self.check_configuration()
        self.verify_optimizer_coverage()
        self.verify_data()
        self.initialize_mixed_precision(mixed_precision)
        self.initialize_early_stopping(early_stopping)
        self.initialize_randomness(seed)
        self.dataloader: Any = None
        self.dataloader_iter: Iterator | None = None
        self.epoch = 0
        self.iteration = 0
        self.loss_history: list[float] = []
        self._stage = "init"
        self._pending: dict[str, Any] | None = None
        self._loader_start: dict[str, Any] | None = None
        self._loader_batches = 0
        self._loader_passes = 0
        self._epoch_loss_sum: Any = 0.0
        self._epoch_loss_count = 0
        self._scaler_stepped = False

    # -- what subclasses provide (PML's extension points) ---------------------------------
    def custom_setup(self) -> None:
        pass

    def calculate_loss(self, curr_batch: Any) -> None:
        raise NotImplementedError

    def update_loss_weights(self) -> None:
        pass

    def modify_schema(self) -> None:
        pass

    def check_configuration(self) -> None:
        """Raise ``ValueError`` if the losses/models this trainer computes with are missing."""

    # -- key checks ------------------------------------------------------------------------------
    def verify_dict_keys(self) -> None:
        self.allowed_lr_scheduler_key_suffixes = {
            "iteration": "_scheduler_by_iteration",
            "epoch": "_scheduler_by_epoch",
            "plateau": "_scheduler_by_plateau",
        }
        self.set_schema()
        self.schema.verify(self)
        self.verify_freeze_these_keys()

    def _owners(self, children: dict) -> list[str]:
        return list(children["models"].keys) + list(children["loss_funcs"].keys)

    def set_schema(self) -> None:
        suffixes = self.allowed_lr_scheduler_key_suffixes
        self.schema = KeyCheckerDict(
            {
                "models": KeyChecker(["trunk", "embedder"], essential=["trunk"]),
                "loss_funcs": KeyChecker(["metric_loss"]),
                "mining_funcs": KeyChecker(["subset_batch_miner", "tuple_miner"], warn_empty=False, important=[]),
                "loss_weights": KeyChecker(
                    lambda s, d: self._weight_keys(d), warn_empty=False, essential=lambda s, d: list(self.loss_names)
                ),
                "optimizers": KeyChecker(
                    lambda s, d: [k + "_optimizer" for k in self._owners(d)],
                    important=lambda s, d: [k + "_optimizer" for k in self.models if k != "embedder"],
                ),
                "lr_schedulers": KeyChecker(
                    lambda s, d: [x + y for y in suffixes.values() for x in self._owners(d)],
                    warn_empty=False,
                    important=[],
                ),
                "gradient_clippers": KeyChecker(
                    lambda s, d: [k + "_grad_clipper" for k in self._owners(d)], warn_empty=False, important=[]
                ),
            }
        )
        self.modify_schema()

    def _weight_keys(self, children: dict) -> list[str]:
        # The losses given, the extra ones the trainer computes (DAML's g_hard_loss...), and
        # any loss this trainer knows (a weight for a loss that is not used is harmless).
        keys = list(self.loss_names)
        keys += [k for k in children["loss_funcs"].keys if k not in keys]
        return keys

    def verify_freeze_these_keys(self) -> None:
        owner = type(self).__name__
        allowed = list(self.schema["models"].keys) + list(self.schema["loss_funcs"].keys)
        for k in self.freeze_these:
            if not isinstance(k, str) or not any(re.fullmatch(p, k) for p in allowed):
                raise ValueError(f"{owner}: freeze_these has {k!r}; its keys must be one of {', '.join(allowed)}")
            if k + "_optimizer" in self.optimizers:
                LOGGER.warning("%s: an optimizer is given for %s, whose parameters are frozen", owner, k)

    def verify_optimizer_coverage(self) -> None:
        """Every model or loss with trainable parameters needs an optimizer (or a place in freeze_these)."""
        owner = type(self).__name__
        covered: set[int] = set()
        for k, opt in self.optimizers.items():
            groups = getattr(opt, "param_groups", None)
            if groups is None:
                return  # not a torch optimizer: its parameters are unknown
            covered.update(id(p) for g in groups for p in g["params"])
        for group, objs in (("models", self.models), ("loss_funcs", self.loss_funcs)):
            for k, obj in objs.items():
                if k in self.freeze_these or not isinstance(obj, nn.Module):
                    continue
                params = [p for p in obj.parameters() if p.requires_grad]
                if params and not any(id(p) in covered for p in params):
                    raise ValueError(
                        f"{owner}: {group}[{k!r}] has {len(params)} trainable parameter tensors but no optimizer "
                        f"updates them; add optimizers[{k + '_optimizer'!r}] or put {k!r} in freeze_these"
                    )

    def verify_data(self) -> None:
        owner = type(self).__name__
        _data.check_dataset(owner, self.dataset, self.sampler, self.batch_size)
        _data.check_sampler(owner, self.sampler, self.batch_size)
        if self._default_getter and self.data_and_label_getter is return_input:
            try:
                item = self.dataset[0]
            except Exception:  # noqa: BLE001 - not indexable: checked at the first batch instead
                item = None
            if isinstance(item, Mapping):
                _data.warn_dict_items(owner)
                self.data_and_label_getter = _data.legacy_dict_getter

    def _required_loss(self, key: str) -> None:
        if key not in self.loss_funcs:
            given = ", ".join(map(repr, self.loss_funcs)) or "none"
            raise ValueError(f"{type(self).__name__}: loss_funcs must contain {key!r}, which it computes (given: {given})")

    # -- initialisation (PML's) ----------------------------------------------------------------
    def initialize_models(self) -> None:
        if "embedder" not in self.models:
            self.models["embedder"] = nn.Identity()

    def initialize_data_device(self) -> None:
        if self.data_device is None:
            self.data_device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.data_device = torch.device(self.data_device)

    def initialize_label_mapper(self) -> None:
        if self._legacy_label_mapper is not None:
            self.label_mapper = self._legacy_label_mapper
        else:
            try:
                self.label_mapper = LabelMapper(self.set_min_label_to_zero, self.dataset_labels).map
            except ValueError as exc:
                raise ValueError(f"{type(self).__name__}: {exc}") from None

    def initialize_loss_tracker(self) -> None:
        self.loss_tracker = LossTracker(self.loss_names)
        self.losses = self.loss_tracker.losses

    def initialize_loss_weights(self) -> None:
        if self.loss_weights is None:
            self.loss_weights = {k: 1 for k in self.loss_names}

    def initialize_data_and_label_getter(self) -> None:
        self._default_getter = self.data_and_label_getter is None
        if self.data_and_label_getter is None:
            self.data_and_label_getter = return_input

    def initialize_hooks(self) -> None:
        if self.end_of_iteration_hook is None:
            self.end_of_iteration_hook = return_input
        if self.end_of_epoch_hook is None:
            self.end_of_epoch_hook = return_input

    def initialize_lr_schedulers(self) -> None:
        if self.lr_schedulers is None:
            self.lr_schedulers = {}

    def initialize_mixed_precision(self, mixed_precision: Any) -> None:
        owner = type(self).__name__
        if mixed_precision is None or mixed_precision is False:
            dtype = None
        elif isinstance(mixed_precision, torch.dtype) and mixed_precision in (torch.bfloat16, torch.float16):
            dtype = mixed_precision
        elif isinstance(mixed_precision, str) and mixed_precision.lower() in _MIXED_PRECISION:
            dtype = _MIXED_PRECISION[mixed_precision.lower()]
        else:
            raise ValueError(f"{owner}: mixed_precision must be None, 'bf16' or 'fp16', got {mixed_precision!r}")
        self.mixed_precision = {None: None, torch.bfloat16: "bf16", torch.float16: "fp16"}[dtype]
        self.autocast_dtype = dtype
        self.grad_scaler = torch.amp.GradScaler(self.data_device.type) if dtype is torch.float16 else None

    def initialize_early_stopping(self, early_stopping: Any) -> None:
        if early_stopping is None or isinstance(early_stopping, EarlyStopping):
            self.early_stopping = early_stopping
        elif isinstance(early_stopping, int) and not isinstance(early_stopping, bool):
            self.early_stopping = EarlyStopping(patience=early_stopping)
        else:
            raise TypeError(
                f"{type(self).__name__}: early_stopping must be None, an int patience or an EarlyStopping, "
                f"got {type(early_stopping).__name__}"
            )

    def initialize_randomness(self, seed: Any) -> None:
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"{type(self).__name__}: seed must be None or a non-negative int, got {seed!r}")
        self.seed = None if seed is None else int(seed)
        base = self.seed if self.seed is not None else int(torch.randint(0, 2**62, (1,)).item())
        self.dataloader_generator = torch.Generator().manual_seed(base)
        self.rng = derived_generator(base, "trainer")
        if self.seed is not None:
            for path, obj in self._components_with_rng():
                obj.rng = derived_generator(self.seed, path)
        self._globals_seeded = False

    def _components_with_rng(self) -> list[tuple[str, Any]]:
        """``(path, object)`` for every loss/miner (or submodule) holding a NumPy ``rng``."""
        out = []
        for group in ("loss_funcs", "mining_funcs"):
            for k, obj in getattr(self, group).items():
                if isinstance(obj, nn.Module):
                    for sub, mod in obj.named_modules():
                        if isinstance(getattr(mod, "rng", None), np.random.Generator):
                            out.append((f"{group}.{k}" + (f".{sub}" if sub else ""), mod))
                elif isinstance(getattr(obj, "rng", None), np.random.Generator):
                    out.append((f"{group}.{k}", obj))
        return out

    # -- the loop --------------------------------------------------------------------------------
    def train(self, start_epoch: int = 1, num_epochs: int = 1) -> None:
        """Train epochs ``start_epoch .. num_epochs`` (PML's meaning: ``num_epochs`` is the last epoch).

        After :meth:`load_state_dict`, the run continues where the state was saved (epoch
        and iteration within it) and ``start_epoch`` is ignored.
        """
        owner = type(self).__name__
        if self.dataloader is None:
            self.initialize_dataloader()
        pending, self._pending = self._pending, None
        first_epoch, first_iteration, pending_schedulers = start_epoch, 0, False
        if pending is not None:
            progress = pending["progress"]
            if progress["iterations_per_epoch"] is not None and progress["iterations_per_epoch"] != self.iterations_per_epoch:
                raise ValueError(
                    f"{owner}: the state was saved with iterations_per_epoch={progress['iterations_per_epoch']} but this "
                    f"trainer has {self.iterations_per_epoch}; build it with the same dataset, sampler and batch_size"
                )
            _resume.restore_data_position(self, pending["data"])
            restore_rng_state(pending["rng"]["global"])
            self.dataloader_generator.set_state(pending["rng"]["dataloader"])
            if progress["epoch"] is not None:
                if start_epoch not in (1, progress["epoch"]):
                    warnings.warn(
                        f"{owner}: train(start_epoch={start_epoch}) after load_state_dict: the run continues at epoch "
                        f"{progress['epoch']}, iteration {progress['next_iteration']}, where the state was saved",
                        UserWarning,
                        stacklevel=2,
                    )
                first_epoch = progress["epoch"]
                first_iteration = progress["next_iteration"]
                pending_schedulers = progress["pending_iteration_schedulers"]
                self._epoch_loss_sum = progress["epoch_loss_sum"]
                self._epoch_loss_count = progress["epoch_loss_count"]
            self._globals_seeded = True
        elif self.seed is not None and not self._globals_seeded:
            seed_everything(self.seed)
            self._globals_seeded = True
        for self.epoch in range(first_epoch, num_epochs + 1):
            resumed = self.epoch == first_epoch and (first_iteration > 0 or pending_schedulers)
            self.set_to_train()
            LOGGER.info("TRAINING EPOCH %d", self.epoch)
            start = first_iteration if self.epoch == first_epoch else 0
            self.iteration = start - 1
            if resumed:
                if pending_schedulers:
                    self.step_lr_schedulers(end_of_epoch=False)
            else:
                self._epoch_loss_sum, self._epoch_loss_count = 0.0, 0
            self._stage = "between_iterations"
            with self._progress(start) as bar:
                for self.iteration in range(start, self.iterations_per_epoch):
                    self._stage = "in_step"
                    self.forward_and_backward()
                    self._accumulate_epoch_loss()
                    self._stage = "in_iteration_hook"
                    self.end_of_iteration_hook(self)
                    self._legacy_update_records()
                    self._update_progress(bar)
                    self.step_lr_schedulers(end_of_epoch=False)
                    self._stage = "between_iterations"
            self.step_lr_schedulers(end_of_epoch=True)
            self._finish_epoch_loss()
            stop = bool(self.early_stopping(self)) if self.early_stopping is not None else False
            self.zero_losses()
            self._stage = "in_epoch_hook"
            self._legacy_end_of_epoch_records()
            keep_going = self.end_of_epoch_hook(self)
            self._stage = "epoch_done"
            if keep_going is False or stop:
                if stop:
                    LOGGER.info("%s: early stopping after epoch %d", owner, self.epoch)
                break

    def initialize_dataloader(self) -> None:
        """Build the training loader (PML's ``get_train_dataloader``); its iterator starts at the first batch."""
        LOGGER.info("Initializing dataloader")
        self.dataloader = _data.get_train_dataloader(
            self.dataset,
            self.batch_size,
            self.sampler,
            self.dataloader_num_workers,
            self.collate_fn,
            self.dataloader_generator,
        )
        if not self.iterations_per_epoch:
            self.iterations_per_epoch = len(self.dataloader)
            if self.iterations_per_epoch == 0:
                raise ValueError(f"{type(self).__name__}: the training loader yields no batch")
        self.dataloader_iter = None
        self._loader_start = None
        self._loader_batches = 0

    def _new_loader_iterator(self) -> None:
        if isinstance(self.sampler, DistributedSampler):
            self.sampler.set_epoch(self._loader_passes)
        self._loader_start = {
            "pass": self._loader_passes,
            "dataloader": self.dataloader_generator.get_state(),
            "rng": capture_rng_state(),
            "sampler": self._sampler_state(),
        }
        self.dataloader_iter = iter(self.dataloader)
        self._loader_batches = 0
        self._loader_passes += 1

    def _sampler_state(self) -> Any:
        fn = getattr(self.sampler, "state_dict", None)
        return fn() if callable(fn) else None

    def _next_batch(self) -> Any:
        if self.dataloader_iter is None:
            self._new_loader_iterator()
        try:
            batch = next(self.dataloader_iter)
        except StopIteration:
            self._new_loader_iterator()
            try:
                batch = next(self.dataloader_iter)
            except StopIteration:
                raise RuntimeError(f"{type(self).__name__}: the training loader yields no batch") from None
        self._loader_batches += 1
        if self._default_getter and self.data_and_label_getter is return_input and isinstance(batch, Mapping):
            _data.warn_dict_items(type(self).__name__)
            self.data_and_label_getter = _data.legacy_dict_getter
        return batch

    def forward_and_backward(self) -> None:
        self.zero_losses()
        self.zero_grad()
        self.update_loss_weights()
        self.calculate_loss(self.get_batch())
        self.loss_tracker.update(self.loss_weights)
        self.backward()
        self.clip_gradients()
        self.step_optimizers()

    def zero_losses(self) -> None:
        for k in self.losses:
            self.losses[k] = 0

    def zero_grad(self) -> None:
        for v in self.models.values():
            v.zero_grad()
        for v in self.optimizers.values():
            v.zero_grad()

    def get_batch(self) -> tuple[Any, torch.Tensor]:
        data, labels = self.data_and_label_getter(self._next_batch())
        labels = process_label(labels, self.label_hierarchy_level, self.label_mapper)
        return self.maybe_do_batch_mining(data, labels)

    # -- models, with optional autocast ------------------------------------------------------
    def autocast(self) -> Any:
        """The autocast context of ``mixed_precision`` (a no-op context without it)."""
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.data_device.type, dtype=self.autocast_dtype)

    def run_model(self, name: str, x: Any) -> Any:
        """``models[name](x)``, under autocast with mixed precision; low-precision outputs become float32."""
        if self.autocast_dtype is None:
            return self.models[name](x)
        with self.autocast():
            out = self.models[name](x)
        return _float32(out)

    def compute_embeddings(self, data: Any) -> torch.Tensor:
        return self.get_final_embeddings(self.get_trunk_output(data))

    def get_final_embeddings(self, base_output: Any) -> torch.Tensor:
        return self.run_model("embedder", base_output)

    def get_trunk_output(self, data: Any) -> Any:
        return self.run_model("trunk", to_device(data, self.data_device, self.dtype))

    def maybe_mine_embeddings(self, embeddings: torch.Tensor, labels: torch.Tensor) -> Any:
        if "tuple_miner" in self.mining_funcs:
            return self.mining_funcs["tuple_miner"](embeddings, labels)
        return None

    def maybe_do_batch_mining(self, data: Any, labels: torch.Tensor) -> tuple[Any, torch.Tensor]:
        if "subset_batch_miner" in self.mining_funcs:
            with torch.no_grad():
                self.set_to_eval()
                embeddings = self.compute_embeddings(data)
                idx = self.mining_funcs["subset_batch_miner"](embeddings, labels)
                self.set_to_train()
            idx = torch.as_tensor(idx)
            data, labels = _data.index_batch(data, idx), labels[idx.to(labels.device)]
        return data, labels

    # -- backward and steps --------------------------------------------------------------------
    def backward(self) -> None:
        total = self.losses["total_loss"]
        if not isinstance(total, torch.Tensor) or not total.requires_grad:
            return  # nothing to differentiate (every loss weighted 0, or constant)
        (self.grad_scaler.scale(total) if self.grad_scaler is not None else total).backward()

    def optimizers_to_step(self) -> list[str]:
        """Keys of the optimizers stepped this iteration (PML: all but those of frozen models)."""
        return [k for k in self.optimizers if re.sub("_optimizer$", "", k) not in self.freeze_these]

    def _step_optimizer(self, optimizer: Any) -> None:
        if self.grad_scaler is None:
            optimizer.step()
        elif _has_grads(optimizer):
            self.grad_scaler.step(optimizer)
            self._scaler_stepped = True

    def step_optimizers(self) -> None:
        for k in self.optimizers_to_step():
            self._step_optimizer(self.optimizers[k])
        self._update_scaler()

    def _update_scaler(self) -> None:
        if self.grad_scaler is not None and self._scaler_stepped:
            self.grad_scaler.update()
        self._scaler_stepped = False

    def clip_gradients(self) -> None:
        if self.gradient_clippers:
            if self.grad_scaler is not None:
                for k in self.optimizers_to_step():
                    if _has_grads(self.optimizers[k]):
                        self.grad_scaler.unscale_(self.optimizers[k])
            for v in self.gradient_clippers.values():
                v()

    def get_global_iteration(self) -> int:
        return self.iteration + self.iterations_per_epoch * (self.epoch - 1)

    def step_lr_schedulers(self, end_of_epoch: bool = False) -> None:
        suffix = self.allowed_lr_scheduler_key_suffixes["epoch" if end_of_epoch else "iteration"]
        for k, v in self.lr_schedulers.items():
            if k.endswith(suffix):
                v.step()

    def step_lr_plateau_schedulers(self, validation_info: Any) -> None:
        for k, v in self.lr_schedulers.items():
            if k.endswith(self.allowed_lr_scheduler_key_suffixes["plateau"]):
                v.step(validation_info)

    def maybe_freeze_trunk_batchnorm(self) -> None:
        if self.freeze_trunk_batchnorm:
            self.models["trunk"].apply(_set_batchnorm_to_eval)

    def trainable_attributes(self) -> list[dict]:
        return [self.models, self.loss_funcs]

    def set_to_train(self) -> None:
        for group in self.trainable_attributes():
            for k, v in group.items():
                if not isinstance(v, nn.Module):
                    continue
                if k in self.freeze_these:
                    for p in v.parameters():
                        p.requires_grad = False
                    v.eval()
                else:
                    v.train()
        self.maybe_freeze_trunk_batchnorm()

    def set_to_eval(self) -> None:
        for group in self.trainable_attributes():
            for v in group.values():
                if isinstance(v, nn.Module):
                    v.eval()

    # -- progress, epoch loss, legacy records ------------------------------------------------------
    @contextlib.contextmanager
    def _progress(self, start: int) -> Iterator[Any]:
        if not self.progress_bar:
            yield None
            return
        import tqdm

        bar = tqdm.tqdm(total=self.iterations_per_epoch, initial=start, desc=f"epoch {self.epoch}", dynamic_ncols=True)
        try:
            yield bar
        finally:
            bar.close()

    def _update_progress(self, bar: Any) -> None:
        if bar is None:
            return
        bar.update(1)
        last = self.iteration + 1 == self.iterations_per_epoch
        if self._epoch_loss_count and (self.iteration % 10 == 0 or last):
            bar.set_postfix_str(f"total_loss={float(self._epoch_loss_sum) / self._epoch_loss_count:.5f}", refresh=False)

    def _accumulate_epoch_loss(self) -> None:
        total = self.losses["total_loss"]
        value = total.detach().to(torch.float64) if isinstance(total, torch.Tensor) else float(total)
        self._epoch_loss_sum = self._epoch_loss_sum + value
        self._epoch_loss_count += 1

    def _finish_epoch_loss(self) -> None:
        if self._epoch_loss_count:
            self.loss_history.append(float(self._epoch_loss_sum) / self._epoch_loss_count)
        self._epoch_loss_sum, self._epoch_loss_count = 0.0, 0

    def record_these(self) -> list:
        """What PML 0.9 passed to ``record_keeper.update_records`` every iteration."""
        losses = {k: float(v.detach()) if isinstance(v, torch.Tensor) else v for k, v in self.loss_tracker.losses.items()}
        return [
            [losses, {"input_group_name_for_non_objects": "loss_histories"}],
            [self.loss_tracker.loss_weights, {"input_group_name_for_non_objects": "loss_weights"}],
            [self.loss_funcs, {}],
            [self.mining_funcs, {}],
            [self.models, {}],
            [self.optimizers, {"custom_attr_func": lambda x: {"lr": x.param_groups[0]["lr"]}}],
        ]

    def _legacy_update_records(self) -> None:
        if self.record_keeper is not None:
            for record, kwargs in self.record_these():
                self.record_keeper.update_records(record, self.get_global_iteration(), **kwargs)

    def _legacy_end_of_epoch_records(self) -> None:
        fn = getattr(self.record_keeper, "maybe_add_custom_figures_to_tensorboard", None)
        if callable(fn):
            fn(self.get_global_iteration())

    # -- state -------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue this run exactly, as plain containers and tensors.

        Keys: ``models``, ``optimizers``, ``lr_schedulers``, ``loss_funcs`` and
        ``mining_funcs`` (the ``state_dict()`` of each object that has one: learnable loss
        weights, CrossBatchMemory queues, memory-bank miners), ``grad_scaler``,
        ``loss_weights``, ``loss_history``, ``early_stopping``, ``components_rng`` (the
        trainer's and every loss/miner NumPy generator), ``progress`` (the epoch and
        iteration to continue at, whether the iteration schedulers of the last finished
        iteration still have to step, the epoch's running loss), ``rng`` (torch CPU/CUDA,
        NumPy and Python global states and the loader's generator) and ``data`` (the
        position in the loader: the sampler's ``state_dict()`` and the generator states when
        the current loader iterator started, and the number of batches taken from it). It
        loads with ``torch.load(..., weights_only=True)``.

        Call it between iterations: from ``end_of_iteration_hook`` or ``end_of_epoch_hook``
        (where the logging hooks call it), or outside :meth:`train`. A state taken in
        ``end_of_iteration_hook`` continues after that iteration (its iteration schedulers
        step first); one taken in ``end_of_epoch_hook`` continues with the next epoch
        (the rest of that hook is not run again). As with ``nn.Module.state_dict``, the
        tensors of models and optimizers are references: save the state (``torch.save``) or
        deep-copy it to keep a snapshot.

        **Exactness.** A trainer built with the same arguments that loads the state and
        trains ends with the same weights, bit for bit, as the uninterrupted run (tested
        with shuffling, a learnable loss, a CrossBatchMemory, random-triplet losses,
        dropout, iteration and epoch schedulers, fp16 with a GradScaler). The loader
        position is restored in one of two ways: a sampler whose ``state_dict()`` has an int
        ``position`` (this library's samplers) is moved to what the trainer consumed, which
        is exact also with ``dataloader_num_workers > 0`` (the workers' prefetching runs
        ahead of the consumer); any other sampler (None, torch's samplers) is replayed: the
        generators are set back to where the current loader pass began and the consumed
        batches are drawn again and dropped. A sampler that keeps hidden state without a
        ``state_dict`` (PML's MPerClassSampler reorders its label list in place) cannot be
        restored exactly. On CUDA, bit-exactness also needs deterministic kernels
        (``torch.use_deterministic_algorithms(True)``).
        """
        return _resume.trainer_state(self)

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a :meth:`state_dict` into a trainer built with the same arguments.

        Models, optimizers, schedulers, losses, miners, the grad scaler, loss weights,
        early-stopping and generator states are restored now; the data position and the
        global RNG states when :meth:`train` starts, which then continues the saved run
        (ignoring its ``start_epoch``). Raises ``ValueError`` for a state of another
        format or trainer class, or whose dict keys differ from this trainer's.
        """
        _resume.load_trainer_state(self, state)


def _float32(out: Any) -> Any:
    if isinstance(out, torch.Tensor):
        return out.float() if out.dtype in (torch.float16, torch.bfloat16) else out
    if isinstance(out, tuple):
        return tuple(_float32(v) for v in out)
    if isinstance(out, list):
        return [_float32(v) for v in out]
    return out


def _set_batchnorm_to_eval(module: nn.Module) -> None:
    if "BatchNorm" in type(module).__name__:
        module.eval()


