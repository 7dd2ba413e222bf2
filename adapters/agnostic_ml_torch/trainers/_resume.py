"""A trainer's state for exact resume: what :meth:`BaseTrainer.state_dict` saves and how it is restored.

The state is plain containers and tensors (``torch.load(..., weights_only=True)`` reads it).
The trainer tracks a *stage* (``"init"``, ``"in_step"``, ``"in_iteration_hook"``,
``"between_iterations"``, ``"in_epoch_hook"``, ``"epoch_done"``) so that a state taken in a
hook knows what of the loop is still to run, and the loader *position*: the generator and
sampler states when the current loader iterator began, and how many batches were taken
from it since.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from . import _data
from ._state import capture_rng_state, generator_state, restore_rng_state, set_generator_state

__all__ = ["STATE_FORMAT", "trainer_state", "load_trainer_state", "restore_data_position"]

#: ``state_dict()["format"]``; a state of another format is refused by ``load_state_dict``.
STATE_FORMAT = "agnostic_ml_torch.trainer/1"


def _plain_number(v: Any) -> Any:
    if isinstance(v, torch.Tensor) and v.numel() == 1:
        return v.item()
    if isinstance(v, np.generic):
        return v.item()
    return v


def _stateful(objs: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in objs.items() if callable(getattr(v, "state_dict", None))}


def _load_group(owner: str, name: str, objs: Mapping[str, Any], states: Mapping[str, Any]) -> None:
    if set(objs) != set(states):
        raise ValueError(
            f"{owner}.load_state_dict: the state's {name} are {sorted(states)} but this trainer's are {sorted(objs)}"
        )
    for k, obj in objs.items():
        try:
            obj.load_state_dict(states[k])
        except (RuntimeError, ValueError, KeyError) as exc:
            raise ValueError(f"{owner}.load_state_dict: {name}[{k!r}] does not accept the saved state: {exc}") from exc


def trainer_state(trainer: Any) -> dict[str, Any]:
    """:meth:`BaseTrainer.state_dict`."""
    owner = type(trainer).__name__
    if trainer._stage == "in_step":
        raise RuntimeError(
            f"{owner}.state_dict() was called in the middle of an iteration (its models may be half-updated); "
            "call it from end_of_iteration_hook or end_of_epoch_hook"
        )
    state: dict[str, Any] = {
        "format": STATE_FORMAT,
        "trainer": owner,
        "models": {k: v.state_dict() for k, v in trainer.models.items()},
        "optimizers": {k: v.state_dict() for k, v in trainer.optimizers.items()},
        "lr_schedulers": {k: v.state_dict() for k, v in trainer.lr_schedulers.items()},
        "loss_funcs": {k: v.state_dict() for k, v in _stateful(trainer.loss_funcs).items()},
        "mining_funcs": {k: v.state_dict() for k, v in _stateful(trainer.mining_funcs).items()},
        "grad_scaler": None if trainer.grad_scaler is None else trainer.grad_scaler.state_dict(),
        "loss_weights": {k: _plain_number(v) for k, v in trainer.loss_weights.items()},
        "loss_history": list(trainer.loss_history),
        "early_stopping": None if trainer.early_stopping is None else trainer.early_stopping.state_dict(),
        "components_rng": {
            "trainer": generator_state(trainer.rng),
            **{path: generator_state(obj.rng) for path, obj in trainer._components_with_rng()},
        },
    }
    if trainer._pending is not None:  # loaded, not yet resumed: hand the loaded position back
        state.update(progress=trainer._pending["progress"], rng=trainer._pending["rng"], data=trainer._pending["data"])
        return state
    state["progress"] = _progress(trainer)
    state["rng"] = {"global": capture_rng_state(), "dataloader": trainer.dataloader_generator.get_state()}
    state["data"] = {"start": trainer._loader_start, "batches": trainer._loader_batches, "passes": trainer._loader_passes}
    return state


def _progress(trainer: Any) -> dict[str, Any]:
    stage = trainer._stage
    mid_epoch = stage in ("in_iteration_hook", "between_iterations")
    if stage == "init":
        epoch, nxt = None, 0
    elif mid_epoch:
        epoch, nxt = trainer.epoch, trainer.iteration + 1
    else:  # in or after end_of_epoch_hook, or after train() returned
        epoch, nxt = trainer.epoch + 1, 0
    return {
        "epoch": epoch,
        "next_iteration": nxt,
        "pending_iteration_schedulers": stage == "in_iteration_hook",
        "iterations_per_epoch": trainer.iterations_per_epoch,
        "epoch_loss_sum": float(trainer._epoch_loss_sum) if mid_epoch else 0.0,
        "epoch_loss_count": trainer._epoch_loss_count if mid_epoch else 0,
    }


def load_trainer_state(trainer: Any, state: Mapping[str, Any]) -> None:
    """:meth:`BaseTrainer.load_state_dict`."""
    owner = type(trainer).__name__
    if not isinstance(state, Mapping) or state.get("format") != STATE_FORMAT:
        got = state.get("format") if isinstance(state, Mapping) else type(state).__name__
        raise ValueError(f"{owner}.load_state_dict: not a trainer state of format {STATE_FORMAT!r} (got {got!r})")
    if state["trainer"] != owner:
        raise ValueError(f"{owner}.load_state_dict: the state is from a {state['trainer']} trainer")
    _load_group(owner, "models", trainer.models, state["models"])
    _load_group(owner, "optimizers", trainer.optimizers, state["optimizers"])
    _load_group(owner, "lr_schedulers", trainer.lr_schedulers, state["lr_schedulers"])
    _load_group(owner, "loss_funcs", _stateful(trainer.loss_funcs), state["loss_funcs"])
    _load_group(owner, "mining_funcs", _stateful(trainer.mining_funcs), state["mining_funcs"])
    scaler = state.get("grad_scaler")
    if scaler is not None and trainer.grad_scaler is not None:
        trainer.grad_scaler.load_state_dict(scaler)
    elif (scaler is None) != (trainer.grad_scaler is None):
        warnings.warn(
            f"{owner}.load_state_dict: the state was saved "
            + ("with" if scaler is not None else "without")
            + f" fp16 mixed precision and this trainer runs with mixed_precision={trainer.mixed_precision!r}; "
            "the run will not repeat the saved one exactly",
            UserWarning,
            stacklevel=3,
        )
    trainer.loss_weights.update(state["loss_weights"])
    trainer.loss_history = [float(v) for v in state["loss_history"]]
    if trainer.early_stopping is not None and state.get("early_stopping") is not None:
        trainer.early_stopping.load_state_dict(state["early_stopping"])
    rngs = dict(state["components_rng"])
    set_generator_state(trainer.rng, rngs.pop("trainer"))
    mine = dict(trainer._components_with_rng())
    if set(rngs) != set(mine):
        raise ValueError(
            f"{owner}.load_state_dict: the state holds generators for {sorted(rngs)} but this trainer's losses and "
            f"miners have {sorted(mine)}; build them with the same classes"
        )
    for path, gen_state in rngs.items():
        set_generator_state(mine[path].rng, gen_state)
    trainer._pending = {"progress": dict(state["progress"]), "rng": state["rng"], "data": state["data"]}
    trainer._globals_seeded = True


def restore_data_position(trainer: Any, data: Mapping[str, Any]) -> None:
    """Put the loader where the saved run was (``train`` calls this after building the loader)."""
    owner = type(trainer).__name__
    start = data["start"]
    if start is None:  # no batch had been drawn
        trainer._loader_passes = int(data["passes"])
        trainer.dataloader_iter, trainer._loader_start, trainer._loader_batches = None, None, 0
        return
    k = int(data["batches"])
    trainer._loader_passes = int(start["pass"])
    sampler_state = start["sampler"]
    loader = getattr(trainer.sampler, "load_state_dict", None)
    if sampler_state is not None and not callable(loader):
        raise ValueError(
            f"{owner}.load_state_dict: the state holds a sampler state but this trainer's sampler "
            f"({type(trainer.sampler).__name__}) has no load_state_dict"
        )
    position = sampler_state.get("position") if isinstance(sampler_state, Mapping) else None
    if isinstance(position, int) and not isinstance(position, bool):
        # A resumable sampler: jump to what was consumed (a prefetching loader's sampler runs ahead).
        unit = 1 if _data.is_batch_sampler(trainer.sampler) else trainer.batch_size
        loader({**sampler_state, "position": position + k * unit})
        trainer.dataloader_generator.set_state(start["dataloader"])
        trainer._new_loader_iterator()
        return
    # Any other sampler: replay the current loader pass from its start, then drop what was consumed.
    restore_rng_state(start["rng"])
    trainer.dataloader_generator.set_state(start["dataloader"])
    if sampler_state is not None:
        loader(sampler_state)
    trainer._new_loader_iterator()
    for i in range(k):
        try:
            next(trainer.dataloader_iter)
        except StopIteration:
            raise RuntimeError(
                f"{owner}: resuming replays {k} batches of the loader pass, but it ended after {i}; "
                "the dataset or sampler differs from the saved run"
            ) from None
    trainer._loader_batches = k
