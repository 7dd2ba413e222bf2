"""Catalogue entries of the loss wrappers: MultipleLosses, SelfSupervisedLoss, CrossBatchMemory, VICRegLoss."""

from __future__ import annotations

import pytest

pml_losses = pytest.importorskip("pytorch_metric_learning.losses")
pml_miners = pytest.importorskip("pytorch_metric_learning.miners")

from agnostic_ml_torch import losses, miners  # noqa: E402

from loss_case import D, LossCase  # noqa: E402

LOSSES = [
    LossCase(
        "multiple_losses_list",
        lambda: losses.MultipleLosses([losses.ContrastiveLoss(), losses.TripletMarginLoss(margin=0.2)], weights=[1, 0.5]),
        lambda: pml_losses.MultipleLosses([pml_losses.ContrastiveLoss(), pml_losses.TripletMarginLoss(margin=0.2)], weights=[1, 0.5]),
        "wrapper",
        ref=False,
    ),
    LossCase(
        "multiple_losses_dict_miners",
        lambda: losses.MultipleLosses(
            {"c": losses.ContrastiveLoss(), "t": losses.TripletMarginLoss()}, miners={"t": miners.BatchHardMiner()}
        ),
        lambda: pml_losses.MultipleLosses(
            {"c": pml_losses.ContrastiveLoss(), "t": pml_losses.TripletMarginLoss()}, miners={"t": pml_miners.BatchHardMiner()}
        ),
        "wrapper",
        ref=False,
        tuples=False,
    ),
    LossCase(
        "self_supervised_symmetric",
        lambda: losses.SelfSupervisedLoss(losses.TripletMarginLoss(margin=0.2)),
        lambda: pml_losses.SelfSupervisedLoss(pml_losses.TripletMarginLoss(margin=0.2)),
        "self_supervised",
        tuples=False,
        ref=False,
        labels=False,
    ),
    LossCase(
        "self_supervised_asymmetric",
        lambda: losses.SelfSupervisedLoss(losses.ContrastiveLoss(), symmetric=False),
        lambda: pml_losses.SelfSupervisedLoss(pml_losses.ContrastiveLoss(), symmetric=False),
        "self_supervised",
        tuples=False,
        ref=False,
        labels=False,
    ),
    LossCase(
        "cross_batch_memory",
        lambda: losses.CrossBatchMemory(losses.ContrastiveLoss(), D, memory_size=64),
        lambda: pml_losses.CrossBatchMemory(pml_losses.ContrastiveLoss(), D, memory_size=64),
        "wrapper",
        ref=False,
        gradcheck=False,
        empty_tuple_is_zero=False,
        why="the queue holds detached copies of the input (as PML), and a given tuple is added to the mined pairs",
    ),
    LossCase(
        "cross_batch_memory_miner",
        lambda: losses.CrossBatchMemory(losses.TripletMarginLoss(margin=0.1), D, memory_size=64, miner=miners.MultiSimilarityMiner(0.2)),
        lambda: pml_losses.CrossBatchMemory(
            pml_losses.TripletMarginLoss(margin=0.1), D, memory_size=64, miner=pml_miners.MultiSimilarityMiner(0.2)
        ),
        "wrapper",
        ref=False,
        gradcheck=False,
        empty_tuple_is_zero=False,
        why="the queue holds detached copies of the input (as PML), and a given tuple is added to the mined pairs",
    ),
    LossCase(
        "vicreg",
        lambda: losses.VICRegLoss(),
        lambda: pml_losses.VICRegLoss(),
        "self_supervised",
        tuples=False,
        ref=False,
        labels=False,
    ),
]
