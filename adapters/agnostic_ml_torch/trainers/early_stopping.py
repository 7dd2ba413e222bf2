"""``EarlyStopping``: stop training once a monitored value stops improving."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Callable

__all__ = ["EarlyStopping"]


def _epoch_training_loss(trainer: Any) -> float:
    return trainer.loss_history[-1]


class EarlyStopping:
    r"""Stop after ``patience`` epochs without improvement of ``monitor(trainer)``.

    An epoch improves when its value ``v`` beats the best so far ``b`` by more than
    ``min_delta``: :math:`v < b - \delta` for ``mode="min"``, :math:`v > b + \delta` for
    ``mode="max"``. Training stops at the end of the epoch in which the number of epochs
    since the best one exceeds ``patience`` (PML's ``HookContainer`` rule
    ``epoch - best_epoch > patience``). A NaN value never improves.

    The trainer calls it at the end of every epoch, *before* ``end_of_epoch_hook`` (so a
    hook that saves ``trainer.state_dict()`` saves this object's up-to-date state); the
    hook still runs in the last epoch. The default monitor is the epoch's mean training
    ``total_loss`` (``trainer.loss_history[-1]``). To stop on a validation metric, use the
    logging hooks' ``patience`` instead, or make ``end_of_epoch_hook`` return False
    (PML's own mechanism, which the trainers keep).

    Parameters
    ----------
    patience : int
        Epochs without improvement that are tolerated (``>= 0``).
    min_delta : float
        Smallest change that counts as an improvement (``>= 0``).
    mode : {"min", "max"}
    monitor : callable ``trainer -> float``, optional

    Examples
    --------
    >>> class T:
    ...     loss_history = []
    ...     epoch = 0
    >>> t, es = T(), EarlyStopping(patience=1)
    >>> stops = []
    >>> for t.epoch, v in enumerate([3.0, 2.0, 2.5, 2.1, 1.0], start=1):
    ...     t.loss_history.append(v)
    ...     stops.append(es(t))
    >>> stops
    [False, False, False, True, False]
    >>> es.best, es.best_epoch
    (1.0, 5)
    """

    def __init__(
        self,
        patience: int,
        min_delta: float = 0.0,
        mode: str = "min",
        monitor: Callable[[Any], float] | None = None,
    ) -> None:
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"patience must be a non-negative int, got {patience!r}")
        if not isinstance(min_delta, (int, float)) or isinstance(min_delta, bool) or min_delta < 0:
            raise ValueError(f"min_delta must be a non-negative number, got {min_delta!r}")
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        if monitor is not None and not callable(monitor):
            raise TypeError(f"monitor must be a callable trainer -> float, got {type(monitor).__name__}")
        self.patience = patience
        self.min_delta = float(min_delta)
        self.mode = mode
        self.monitor = _epoch_training_loss if monitor is None else monitor
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.stopped_epoch: int | None = None

    def _improves(self, value: float) -> bool:
        if math.isnan(value):
            return False
        if self.best is None:
            return True
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def __call__(self, trainer: Any) -> bool:
        """Record this epoch's value; True when training should stop."""
        value = float(self.monitor(trainer))
        epoch = int(trainer.epoch)
        if self._improves(value):
            self.best, self.best_epoch = value, epoch
        reference = self.best_epoch if self.best_epoch is not None else 0
        if epoch - reference > self.patience:
            self.stopped_epoch = epoch
            return True
        # Reset a stop recorded before a resume that went on training.
        self.stopped_epoch = None
        return False

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch, "stopped_epoch": self.stopped_epoch}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.best = None if state.get("best") is None else float(state["best"])
        self.best_epoch = None if state.get("best_epoch") is None else int(state["best_epoch"])
        self.stopped_epoch = None if state.get("stopped_epoch") is None else int(state["stopped_epoch"])

    def __repr__(self) -> str:
        return f"EarlyStopping(patience={self.patience}, min_delta={self.min_delta}, mode={self.mode!r})"
