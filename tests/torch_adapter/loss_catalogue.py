"""The loss catalogue: one entry per loss configuration, driving every generic loss test.

Adding a loss (or a configuration worth testing) means adding one :class:`LossCase` to
``LOSSES`` here or to the ``LOSSES`` list of a family file ``catalogue_<family>.py`` in this
folder (collected automatically), plus the loss's own specific tests. The generic tests read the flags:

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

from dataclasses import dataclass, field
from typing import Any, Callable

import pytest

torch = pytest.importorskip("torch")
pml_losses = pytest.importorskip("pytorch_metric_learning.losses")
pml_distances = pytest.importorskip("pytorch_metric_learning.distances")
pml_reducers = pytest.importorskip("pytorch_metric_learning.reducers")

from agnostic_ml_torch import distances, losses, reducers  # noqa: E402

#: Sizes of the differential batches (embedding size of learnable losses: ``D``).
N, M, D, C = 24, 20, 8, 4


@dataclass(frozen=True, eq=False)
class LossCase:
    """One loss configuration of the catalogue.

    Attributes
    ----------
    name : str
        Test id.
    ours : callable
        Builds our loss (an ``agnostic_ml_torch.losses`` module).
    pml : callable or None
        Builds PML's loss with the same configuration.
    kind : str
        ``"pair"``, ``"triplet"``, ``"classification"`` (learnable class weights/proxies),
        ``"label"`` (needs labels, no tuples), ``"self_supervised"`` (embeddings + ref_emb,
        no labels) or ``"wrapper"``.
    learnable : bool
        Has ``nn.Parameter`` s (state_dict migration is tested).
    tuples : bool
        Accepts an ``indices_tuple`` from a miner (pairs and triplets).
    ref : bool
        Accepts a separate ``ref_emb`` / ``ref_labels``.
    pml_ref : bool
        PML computes the ``ref_emb`` case correctly (False: PML fails there; ours is checked
        by the contract tests only, and ``why`` says why).
    labels : bool
        Needs labels.
    rtol : float
        Relative tolerance of the PML comparison in float64.
    why : str
        Reason for any deliberate difference from PML.
    """

    name: str
    ours: Callable[[], Any]
    pml: Callable[[], Any] | None
    kind: str
    learnable: bool = False
    tuples: bool = True
    ref: bool = True
    pml_ref: bool = True
    labels: bool = True
    rtol: float = 1e-6
    why: str = ""
    extra: dict = field(default_factory=dict)


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


BY_NAME: dict[str, LossCase] = {}
_FAMILIES_LOADED = False


def _load_families() -> None:
    """Extend ``LOSSES`` (in place) with the family files, once, on first use.

    Not at import time: ``pytest --doctest-modules tests`` imports a family file before this
    module, and the family file's ``from loss_catalogue import LossCase`` would then import
    the half-initialised family file back (a circular import).
    """
    global _FAMILIES_LOADED
    if _FAMILIES_LOADED:
        return
    _FAMILIES_LOADED = True
    LOSSES.extend(_family_catalogues())
    BY_NAME.update({c.name: c for c in LOSSES})
    assert len(BY_NAME) == len(LOSSES), "catalogue names must be unique"


def cases(*, where: Callable[[LossCase], bool] = lambda c: True) -> list[Any]:
    """``pytest.param`` s of the catalogue entries that satisfy ``where``, with their names as ids."""
    _load_families()
    return [pytest.param(c, id=c.name) for c in LOSSES if where(c)]
