"""PML's ``LossTracker``: the per-iteration losses, their weights and ``total_loss``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["LossTracker"]


class LossTracker:
    r"""Holds ``losses`` (name -> value) and ``loss_weights``; ``update`` forms the weighted total.

    .. math:: \text{total\_loss} = \sum_{k \ne \text{total\_loss}} w_k \, L_k

    A weight missing from the dict passed to :meth:`update` is 1 (PML). Unlike PML, the list
    of names passed in is not modified (PML appends ``"total_loss"`` to the caller's list).

    Examples
    --------
    >>> t = LossTracker(["metric_loss", "classifier_loss"])
    >>> t.losses["metric_loss"], t.losses["classifier_loss"] = 2.0, 3.0
    >>> t.update({"metric_loss": 1, "classifier_loss": 0.5})
    >>> t.losses["total_loss"]
    3.5
    """

    def __init__(self, loss_names: Iterable[str]) -> None:
        names = list(loss_names)
        if "total_loss" not in names:
            names.append("total_loss")
        self.losses: dict[str, Any] = {k: 0 for k in names}
        self.loss_weights: dict[str, Any] = {k: 1 for k in names}

    def weight_the_losses(self, exclude_loss: tuple[str, ...] = ("total_loss",)) -> None:
        for k in self.losses:
            if k not in exclude_loss:
                self.losses[k] = self.losses[k] * self.loss_weights[k]

    def get_total_loss(self, exclude_loss: tuple[str, ...] = ("total_loss",)) -> None:
        total: Any = 0
        for k, v in self.losses.items():
            if k not in exclude_loss:
                total = total + v
        self.losses["total_loss"] = total

    def set_loss_weights(self, loss_weight_dict: Mapping[str, Any]) -> None:
        for k in self.losses:
            self.loss_weights[k] = loss_weight_dict.get(k, 1.0)

    def update(self, loss_weight_dict: Mapping[str, Any]) -> None:
        self.set_loss_weights(loss_weight_dict)
        self.weight_the_losses()
        self.get_total_loss()
