"""Miners: PML's and OML's, on any array-API backend, in O(N^2 + output) memory."""

from .base import BaseMiner

__all__ = ["BaseMiner"]
