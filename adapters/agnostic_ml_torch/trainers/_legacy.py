"""PML 0.9's spellings (seed 004), accepted with a ``FutureWarning`` that names today's.

- ``mining_funcs`` keys ``pre_gradient_miner`` / ``post_gradient_miner`` (and ``_<i>``
  variants) -> ``subset_batch_miner`` / ``tuple_miner``;
- ``lr_schedulers`` keys ``<name>_scheduler`` (0.9 stepped every scheduler once per epoch,
  ``ReduceLROnPlateau`` by the hook) -> ``<name>_scheduler_by_epoch`` / ``_by_plateau``;
- ``label_mapper=`` (a function ``(labels, hierarchy_level) -> labels``);
- ``record_keeper=`` (record-keeper's ``RecordKeeper``: ``update_records`` every iteration);
- datasets whose items are dicts ``{"data": x, "label": y}`` (see :mod:`._data`).
"""

from __future__ import annotations

import re
import sys
import warnings
from typing import Any

import torch

__all__ = ["caller_stacklevel", "warn_future", "rename_miners", "rename_schedulers", "check_label_mapper", "check_record_keeper"]

_MINER = re.compile(r"(pre|post)_gradient_miner(_[0-9]+)?")
_SCHEDULER = re.compile(r"(.+)_scheduler")


def caller_stacklevel() -> int:
    """The stacklevel of the first frame outside this package (the user's call)."""
    level, frame = 1, sys._getframe(1)
    package = __name__.rsplit(".", 1)[0]
    while frame is not None and frame.f_globals.get("__name__", "").startswith(package):
        level += 1
        frame = frame.f_back
    return level


def warn_future(message: str) -> None:
    """A ``FutureWarning`` attributed to the user's line that built the trainer."""
    warnings.warn(message, FutureWarning, stacklevel=caller_stacklevel())


def rename_miners(owner: str, mining_funcs: dict) -> dict:
    """Rename ``pre_gradient_miner`` / ``post_gradient_miner`` keys.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as w:
    ...     warnings.simplefilter("always")
    ...     sorted(rename_miners("T", {"post_gradient_miner_1": None}))
    ['tuple_miner_1']
    >>> w[0].category.__name__
    'FutureWarning'
    """
    out, renamed = {}, []
    for k, v in mining_funcs.items():
        m = _MINER.fullmatch(k) if isinstance(k, str) else None
        if m is None:
            out[k] = v
            continue
        new = ("subset_batch_miner" if m.group(1) == "pre" else "tuple_miner") + (m.group(2) or "")
        if new in mining_funcs:
            raise ValueError(f"{owner}: mining_funcs has both {k!r} (PML 0.9's name) and {new!r}; keep only {new!r}")
        out[new] = v
        renamed.append(f"{k!r} -> {new!r}")
    if renamed:
        warn_future(
            f"{owner}: mining_funcs keys 'pre_gradient_miner' / 'post_gradient_miner' are PML 0.9's spelling; "
            f"today they are 'subset_batch_miner' / 'tuple_miner' (used as {', '.join(renamed)})"
        )
    return out


def rename_schedulers(owner: str, schedulers: dict | None) -> dict | None:
    """Rename ``<name>_scheduler`` keys to ``<name>_scheduler_by_epoch`` (``_by_plateau`` for ReduceLROnPlateau)."""
    if not schedulers:
        return schedulers
    out, renamed = {}, []
    for k, v in schedulers.items():
        m = _SCHEDULER.fullmatch(k) if isinstance(k, str) else None
        if m is None:
            out[k] = v
            continue
        kind = "plateau" if isinstance(v, torch.optim.lr_scheduler.ReduceLROnPlateau) else "epoch"
        new = f"{m.group(1)}_scheduler_by_{kind}"
        if new in schedulers:
            raise ValueError(f"{owner}: lr_schedulers has both {k!r} and {new!r}; keep only {new!r}")
        out[new] = v
        renamed.append(f"{k!r} -> {new!r}")
    if renamed:
        warn_future(
            f"{owner}: lr_schedulers keys '<name>_scheduler' are PML 0.9's spelling (stepped once per epoch); today "
            f"the key says when it steps: '<name>_scheduler_by_iteration|_by_epoch|_by_plateau' (used as {', '.join(renamed)})"
        )
    return out


def check_label_mapper(owner: str, label_mapper: Any) -> Any:
    if label_mapper is None:
        return None
    if not callable(label_mapper):
        raise TypeError(f"{owner}: label_mapper must be a function (labels, hierarchy_level) -> labels")
    warn_future(
        f"{owner}: label_mapper= is PML 0.9's spelling; today pass set_min_label_to_zero=True with "
        "dataset_labels=..., or map the labels in the dataset"
    )
    return label_mapper


def check_record_keeper(owner: str, record_keeper: Any) -> Any:
    if record_keeper is None:
        return None
    if not callable(getattr(record_keeper, "update_records", None)):
        raise TypeError(
            f"{owner}: record_keeper must have an update_records(record, global_iteration, **kwargs) method "
            f"(record-keeper's RecordKeeper), got {type(record_keeper).__name__}"
        )
    warn_future(
        f"{owner}: record_keeper= is PML 0.9's spelling; today pass end_of_iteration_hook / end_of_epoch_hook "
        "(agnostic_ml_torch.utils.logging_presets)"
    )
    return record_keeper
