"""The core losses and regularizers, found by introspection, with the arguments to build them.

Every concrete class exported by :mod:`agnostic_ml.losses` (a subclass of
``BaseMetricLossFunction``) and :mod:`agnostic_ml.regularizers` is listed, so a loss or
regularizer added to those packages is covered by the tests that read this module
(``tests/reliability/``, ``tests/property/test_nonfinite_properties.py``) without editing
them. Required constructor arguments are filled by name from :data:`LOSS_ARGS` /
:data:`REGULARIZER_ARGS`; a new loss whose required argument has another name needs one
entry there.
"""

from __future__ import annotations

import inspect
from typing import Any

import agnostic_ml.losses as L
import agnostic_ml.regularizers as R

__all__ = ["D", "LOSS_ARGS", "REGULARIZER_ARGS", "loss_classes", "make_loss", "make_regularizer", "regularizer_classes"]

#: Embedding width the arguments below assume.
D = 4
#: Arguments the losses' constructors require, by parameter name (4 classes, width D; RankedListLoss needs margin and Tn, as in PML).
LOSS_ARGS = {"num_classes": 4, "embedding_size": D, "descriptors_dim": D, "l": D, "mat_based_loss": False, "margin": 0.4, "Tn": 1.0}
#: Arguments the regularizers' constructors require, by parameter name.
REGULARIZER_ARGS = {"num_classes": 2, "centers_per_class": 2}
#: Base classes without a ``compute_loss`` of their own.
ABSTRACT = {"BaseMetricLossFunction", "GenericPairLoss"}


def loss_classes() -> list[type]:
    """Every concrete loss class exported by ``agnostic_ml.losses``."""
    out = []
    for name in L.__all__:
        cls = getattr(L, name)
        if inspect.isclass(cls) and issubclass(cls, L.BaseMetricLossFunction) and name not in ABSTRACT:
            out.append(cls)
    return out


def _required(cls: type, table: dict[str, Any]) -> dict[str, Any]:
    sig = inspect.signature(cls.__init__)
    missing = [
        p for p, v in sig.parameters.items()
        if p != "self" and v.default is inspect.Parameter.empty and v.kind not in (v.VAR_POSITIONAL, v.VAR_KEYWORD)
        and p not in table
    ]
    if missing:
        raise KeyError(f"{cls.__name__} requires {missing}: add them to tests/catalogue/core_components.py")
    return {p: table[p] for p in sig.parameters if p in table and sig.parameters[p].default is inspect.Parameter.empty}


def make_loss(cls: type, **kw: Any) -> Any:
    """``cls(**required arguments, **kw)``."""
    return cls(**_required(cls, LOSS_ARGS), **kw)


def regularizer_classes() -> list[type]:
    """Every concrete regularizer class exported by ``agnostic_ml.regularizers``."""
    return [
        getattr(R, n) for n in R.__all__
        if inspect.isclass(getattr(R, n)) and n != "BaseRegularizer" and issubclass(getattr(R, n), R.BaseRegularizer)
    ]


def make_regularizer(cls: type, **kw: Any) -> Any:
    """``cls(**required arguments, **kw)``."""
    return cls(**_required(cls, REGULARIZER_ARGS), **kw)
