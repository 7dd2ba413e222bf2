"""The 0.9-era loss arguments (``../shared/seeds/004``), accepted with a ``FutureWarning``.

PML 0.9 losses took ``normalize_embeddings``, ``learnable_param_names`` and
``num_class_per_param``. Today's spellings:

- ``normalize_embeddings=False`` -> ``distance=LpDistance(normalize_embeddings=False)``
  (the loss's default distance with that setting);
- ``learnable_param_names=["margin"]`` -> the named float settings become learnable arrays
  (``nn.Parameter`` s in the torch adapter) of shape ``(1,)``; the formulas broadcast them;
- ``num_class_per_param=C`` -> one value per class, indexed by each anchor's label. Only
  losses that declare per-class support (``MarginLoss``'s ``beta``, today's
  ``MarginLoss(learn_beta=True, num_classes=C)``) accept it; others raise ``ValueError``.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

LEGACY_LOSS_ARGS = ("normalize_embeddings", "learnable_param_names", "num_class_per_param")


def pop_loss_legacy(
    owner: str, kwargs: dict[str, Any], distance: Any
) -> tuple[Callable[[Any], None] | None, tuple[list[str], int | None] | None]:
    """Remove the 0.9-era arguments from ``kwargs``; return how to apply them.

    Returns ``(modify_default_distance, (learnable names, num_class_per_param) or None)``.
    """
    modify = None
    if "normalize_embeddings" in kwargs:
        value = bool(kwargs.pop("normalize_embeddings"))
        if distance is not None:
            raise ValueError(
                f"{owner}: pass either distance= or the 0.9-era normalize_embeddings=, not both "
                "(set normalize_embeddings on the distance object)"
            )
        warnings.warn(
            f"{owner}(normalize_embeddings=...) is the PML 0.9 spelling; pass "
            f"distance=LpDistance(normalize_embeddings={value}) (or the loss's default distance class) instead",
            FutureWarning,
            stacklevel=4,
        )

        def modify(d: Any) -> None:
            d.normalize_embeddings = value

    learnable = None
    names = kwargs.pop("learnable_param_names", None)
    per_class = kwargs.pop("num_class_per_param", None)
    if names is not None or per_class is not None:
        if names is None:
            raise ValueError(f"{owner}: num_class_per_param needs learnable_param_names")
        if isinstance(names, str) or not all(isinstance(n, str) for n in names):
            raise TypeError(f"{owner}: learnable_param_names must be a list of attribute names, got {names!r}")
        if per_class is not None and (isinstance(per_class, bool) or not isinstance(per_class, int) or per_class < 1):
            raise ValueError(f"{owner}: num_class_per_param must be a positive int or None, got {per_class!r}")
        warnings.warn(
            f"{owner}(learnable_param_names=..., num_class_per_param=...) is the PML 0.9 spelling; the named "
            "settings become learnable parameters (today: e.g. MarginLoss(learn_beta=True, num_classes=C))",
            FutureWarning,
            stacklevel=4,
        )
        learnable = (list(names), per_class)
    return modify, learnable


def make_learnable(loss: Any) -> None:
    """Turn the settings named by ``learnable_param_names`` into learnable arrays."""
    spec = getattr(loss, "_legacy_learnable", None)
    if spec is None:
        return
    names, per_class = spec
    owner = type(loss).__name__
    allowed_per_class = getattr(loss, "_per_class_params", ())
    for name in names:
        if not hasattr(loss, name):
            raise ValueError(f"{owner}: learnable_param_names names {name!r}, which is not a setting of this loss")
        value = getattr(loss, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{owner}: {name} must be a number to become learnable, got {value!r}")
        if per_class is not None and name not in allowed_per_class:
            raise ValueError(
                f"{owner}: num_class_per_param is supported for {list(allowed_per_class) or 'no setting'} of this loss, "
                f"not {name!r}"
            )
        shape = (per_class,) if per_class is not None else (1,)
        setattr(loss, name, loss.new_parameter(shape, value=float(value)))
    loss._legacy_learnable = None
