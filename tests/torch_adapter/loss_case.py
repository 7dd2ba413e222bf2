"""The catalogue entry type and the batch sizes, apart from the catalogue itself.

Family catalogue files (``catalogue_<family>.py``) import :class:`LossCase` and the sizes
from here rather than from ``loss_catalogue`` (which imports the family files): importing a
family file first (pytest's ``--doctest-modules`` does) would otherwise be a circular import.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

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
    gradcheck : bool
        ``torch.autograd.gradcheck`` applies (False for losses whose value depends on
        detached copies of the input, such as a memory queue; ``why`` says so).
    empty_tuple_is_zero : bool
        An empty ``indices_tuple`` means "nothing to compute" (False where a given tuple is
        added to the loss's own mining, as in CrossBatchMemory).
    why : str
        Reason for any deliberate difference from PML.
    extra : dict
        Optional hooks: ``"core"`` builds the core object for the backend test;
        ``"call"`` (``call(loss, x, y, tup, r, ry)``) replaces the kind's calling
        convention (``loss_helpers.call``), for losses called in their own way.
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
    gradcheck: bool = True
    empty_tuple_is_zero: bool = True
    why: str = ""
    extra: dict = field(default_factory=dict)
