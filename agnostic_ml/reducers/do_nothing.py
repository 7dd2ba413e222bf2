"""DoNothingReducer: returns the loss dict unchanged."""

from __future__ import annotations

from typing import Any

from .base import BaseReducer


class DoNothingReducer(BaseReducer):
    """Returns the loss dict as given (PML's ``DoNothingReducer``): for per-element losses."""

    def forward(self, loss_dict: dict, embeddings: Any, labels: Any = None) -> dict:
        self.stats = {}
        return loss_dict
