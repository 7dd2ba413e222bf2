"""Reducers: PML's loss-dict reducers on any array-API backend (one file per reducer)."""

from .avg_non_zero import AvgNonZeroReducer
from .base import REDUCTION_TYPES, BaseReducer
from .class_weighted import ClassWeightedReducer
from .divisor import DivisorReducer
from .do_nothing import DoNothingReducer
from .mean import MeanReducer
from .multiple import MultipleReducers
from .per_anchor import PerAnchorReducer, mean_over_present
from .sum import SumReducer
from .threshold import ThresholdReducer

__all__ = [
    "AvgNonZeroReducer",
    "BaseReducer",
    "ClassWeightedReducer",
    "DivisorReducer",
    "DoNothingReducer",
    "MeanReducer",
    "MultipleReducers",
    "PerAnchorReducer",
    "REDUCTION_TYPES",
    "SumReducer",
    "ThresholdReducer",
    "mean_over_present",
]
