"""The loss catalogue: one entry per loss configuration, driving every generic loss test.

Adding a loss (or a configuration worth testing) means adding one :class:`LossCase` to
``LOSSES`` here or to the ``LOSSES`` list of a family file ``catalogue_<family>.py`` in this
folder (collected automatically; it imports ``LossCase`` and the sizes from ``loss_case``), plus the loss's own specific tests. The generic tests read the flags:

- ``tests/torch_adapter/test_losses_vs_pml.py``: value and gradients equal PML's (float64),
  with no miner, with a pair miner, with a triplet miner and with a separate reference set,
  as far as the flags say the loss supports them; learnable losses after loading PML's
  ``state_dict`` (and PML after loading ours), comparing the gradients of the weights too;
- ``tests/torch_adapter/test_losses_contract.py``: gradcheck, zero loss with a zero gradient
  when there is nothing to compute, finiteness on degenerate batches, bfloat16 autocast,
  the core on NumPy and array-api-strict, errors for bad input.

Factories build fresh objects each call. ``pml`` builds PML's loss with the same
configuration (None when PML has no equivalent); learnable losses are built under the same
``torch.manual_seed`` but their weights are compared only after ``load_state_dict``.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest

torch = pytest.importorskip("torch")
pml_losses = pytest.importorskip("pytorch_metric_learning.losses")
pml_distances = pytest.importorskip("pytorch_metric_learning.distances")
pml_reducers = pytest.importorskip("pytorch_metric_learning.reducers")

from agnostic_ml_torch import distances, losses, reducers  # noqa: E402

from loss_case import C, D, M, N, LossCase  # noqa: E402,F401  (re-exported)


LOSSES: list[LossCase] = [
    LossCase("contrastive", lambda: losses.ContrastiveLoss(), lambda: pml_losses.ContrastiveLoss(), "pair"),
    LossCase(
        "contrastive_cos",
        lambda: losses.ContrastiveLoss(pos_margin=0.9, neg_margin=0.2, distance=distances.CosineSimilarity()),
        lambda: pml_losses.ContrastiveLoss(pos_margin=0.9, neg_margin=0.2, distance=pml_distances.CosineSimilarity()),
        "pair",
    ),
    LossCase(
        "contrastive_negative_margins",
        lambda: losses.ContrastiveLoss(pos_margin=-0.1, neg_margin=-0.5),
        lambda: pml_losses.ContrastiveLoss(pos_margin=-0.1, neg_margin=-0.5),
        "pair",
    ),
    LossCase("triplet_margin", lambda: losses.TripletMarginLoss(), lambda: pml_losses.TripletMarginLoss(), "triplet"),
    LossCase(
        "triplet_margin_mean_cos",
        lambda: losses.TripletMarginLoss(margin=0.2, distance=distances.CosineSimilarity(), reducer=reducers.MeanReducer()),
        lambda: pml_losses.TripletMarginLoss(
            margin=0.2, distance=pml_distances.CosineSimilarity(), reducer=pml_reducers.MeanReducer()
        ),
        "triplet",
    ),
    LossCase(
        "triplet_margin_swap",
        lambda: losses.TripletMarginLoss(margin=0.1, swap=True),
        lambda: pml_losses.TripletMarginLoss(margin=0.1, swap=True),
        "triplet",
        pml_ref=False,
        why="PML indexes the batch x reference matrix with reference indices when swap=True (PML#748)",
    ),
    LossCase(
        "triplet_margin_smooth",
        lambda: losses.TripletMarginLoss(margin=0.1, smooth_loss=True),
        lambda: pml_losses.TripletMarginLoss(margin=0.1, smooth_loss=True),
        "triplet",
    ),
]

def _family_catalogues() -> list[LossCase]:
    """Entries of the per-family catalogue files ``catalogue_<family>.py`` beside this one."""
    import importlib
    from pathlib import Path

    out: list[LossCase] = []
    for path in sorted(Path(__file__).parent.glob("catalogue_*.py")):
        out.extend(importlib.import_module(path.stem).LOSSES)
    return out


_ALL: list[LossCase] = []


def all_losses() -> list[LossCase]:
    """This file's entries and every family file's (collected on first use, so that a family
    file may import this module without a cycle)."""
    if not _ALL:
        _ALL.extend(LOSSES + _family_catalogues())
        names = [c.name for c in _ALL]
        assert len(set(names)) == len(names), "catalogue names must be unique"
    return _ALL


def cases(*, where: Callable[[LossCase], bool] = lambda c: True) -> list[Any]:
    """``pytest.param`` s of the catalogue entries that satisfy ``where``, with their names as ids."""
    return [pytest.param(c, id=c.name) for c in all_losses() if where(c)]


class _ByName:
    """``BY_NAME[name]``: a catalogue entry by name (the catalogue is collected on first use)."""

    def __getitem__(self, name: str) -> LossCase:
        for c in all_losses():
            if c.name == name:
                return c
        raise KeyError(name)

    def __contains__(self, name: str) -> bool:
        return any(c.name == name for c in all_losses())


BY_NAME = _ByName()
