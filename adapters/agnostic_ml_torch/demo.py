"""The training demo behind ``agnostic-ml demo``: metric learning on scikit-learn's bundled digits.

Nothing is downloaded. The protocol (the seen/unseen split of metric-learning papers):

- **train** on 70 % of the images of the digits 0-4 (a random split by ``--seed``);
- **seen_heldout**: the other 30 % of the digits 0-4, *classes seen in training*, images not;
- **unseen**: every image of the digits 5-9, *classes never seen in training* (how well the
  embedding generalises to new classes).

Each split is its own query and reference set (every image is queried against the other
images of its split). The embedder is a small MLP (64 -> 128 -> 64) trained with a loss and
a miner (default ``TripletMarginLoss(margin=0.05)`` and ``MultiSimilarityMiner(epsilon=0.1)``,
Adam 1e-3, batches of 64 with 16 images of each of 4 classes from an ``MPerClassSampler``) through ``trainers.MetricLossOnly``,
tested with ``testers.GlobalEmbeddingSpaceTester`` on the exact, faiss-free
``AccuracyCalculator`` and logged with ``utils.logging_presets``. The same metrics of the raw
pixels are printed beside the trained model's.

Written into ``--output``: ``metrics.json`` (``{"<split>": {"<metric>": value}}`` for the trained
model and the same under ``"raw_pixels"``), the CSV records and the latest and best checkpoints
of the hooks, and one PNG of the embedding space per split. Every file is written atomically.

The core's ``agnostic-ml demo`` finds this module through the ``agnostic_ml.demo`` entry point
(the core never imports the adapter); ``agnostic-ml demo --no-train`` is the torch-free demo.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = ["METRICS", "SPLITS", "prepare_splits", "run", "train_and_evaluate"]

#: The metrics the demo prints and writes.
METRICS = ("precision_at_1", "r_precision", "mean_average_precision_at_r")

SPLITS = {
    "seen_heldout": "30% of the images of digits 0-4: classes seen in training, images not",
    "unseen": "all images of digits 5-9: classes never seen in training",
}


def prepare_splits(seed: int, quick: bool = False) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{"train", "seen_heldout", "unseen"}: (pixels / 16 as float32, labels)``; ``quick`` keeps a third."""
    from agnostic_ml.datasets import load_digits

    x, y = load_digits()
    x = x / 16.0
    rng = np.random.default_rng(seed)
    seen = np.flatnonzero(y < 5)
    unseen = np.flatnonzero(y >= 5)
    rng.shuffle(seen)
    if quick:
        seen, unseen = seen[: len(seen) // 3], np.sort(rng.permutation(unseen)[: len(unseen) // 3])
    n_train = int(round(0.7 * len(seen)))
    parts = {"train": np.sort(seen[:n_train]), "seen_heldout": np.sort(seen[n_train:]), "unseen": unseen}
    return {k: (x[v].astype(np.float32), y[v]) for k, v in parts.items()}


def _parse(pairs: list[str], what: str) -> dict[str, Any]:
    import ast

    out = {}
    for item in pairs:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{what} must look like KEY=VALUE, got {item!r}")
        try:
            out[key.strip()] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            out[key.strip()] = value.strip()
    return out


def _build(module: Any, name: str, params: dict[str, Any], what: str) -> Any:
    cls = getattr(module, name, None)
    if not isinstance(cls, type):
        known = ", ".join(n for n in module.__all__ if n[:1].isupper() and not n.startswith("Base"))
        raise ValueError(f"unknown {what} {name!r}; known: {known}")
    try:
        return cls(**params)
    except TypeError as exc:
        raise ValueError(f"{what} {name}({', '.join(f'{k}={v!r}' for k, v in params.items())}): {exc}") from None


def train_and_evaluate(
    *,
    seed: int = 0,
    epochs: int = 40,
    loss: Any = None,
    miner: Any = None,
    device: str = "cpu",
    output: str | os.PathLike | None = None,
    plot: str = "auto",
    quick: bool = False,
    progress_bar: bool = True,
) -> dict[str, Any]:
    """Run the demo's protocol; return ``{"metrics": {...}, "raw_pixels": {...}, "output": path, "seconds": s}``."""
    threads = torch.get_num_threads()
    # A 64-128-64 MLP on batches of 64 gains nothing from intra-op threads, whose spin-waits
    # cost more than the work (measured: several times slower on a busy 2-core machine).
    torch.set_num_threads(1)
    try:
        return _train_and_evaluate(seed, epochs, loss, miner, device, output, plot, quick, progress_bar)
    finally:
        torch.set_num_threads(threads)


def _train_and_evaluate(
    seed: int, epochs: int, loss: Any, miner: Any, device: str, output: Any, plot: str, quick: bool, progress_bar: bool
) -> dict[str, Any]:
    from agnostic_ml.accuracy import AccuracyCalculator

    from . import losses, miners, samplers, testers, trainers
    from .utils import logging_presets

    out_dir = Path(output) if output is not None else Path(tempfile.mkdtemp(prefix="agnostic-ml-demo-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    data = prepare_splits(seed, quick)
    torch.manual_seed(seed)
    trunk = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 64)).to(device)
    loss = losses.TripletMarginLoss(margin=0.05) if loss is None else loss
    miner = miners.MultiSimilarityMiner(epsilon=0.1) if miner is None else miner
    optimizer = torch.optim.Adam(trunk.parameters(), lr=1e-3)
    optimizers = {"trunk_optimizer": optimizer}
    loss_params = [p for p in loss.parameters() if p.requires_grad] if isinstance(loss, torch.nn.Module) else []
    if loss_params:  # learnable losses (ArcFace, ProxyAnchor, ...) need their own optimizer
        optimizers["metric_loss_optimizer"] = torch.optim.Adam(loss_params, lr=1e-3)
    datasets = {k: torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)) for k, (x, y) in data.items()}
    train_labels = data["train"][1]
    sampler = samplers.MPerClassSampler(train_labels, m=16, batch_size=64, length_before_new_iter=len(train_labels), seed=seed)
    calc = AccuracyCalculator(include=METRICS, k="max_bin_count")
    record_keeper, _, _ = logging_presets.get_record_keeper(out_dir / "logs")  # PML returns three objects
    hooks = logging_presets.get_hook_container(
        record_keeper, primary_metric="mean_average_precision_at_r", validation_split_name="seen_heldout"
    )
    tester = testers.GlobalEmbeddingSpaceTester(
        accuracy_calculator=calc, dataloader_num_workers=0, batch_size=256, end_of_testing_hook=hooks.end_of_testing_hook
    )
    eval_splits = {k: v for k, v in datasets.items() if k in SPLITS}
    test_interval = max(1, epochs // 4)
    end_of_epoch = hooks.end_of_epoch_hook(tester, eval_splits, out_dir / "checkpoints", test_interval=test_interval)
    trainer = trainers.MetricLossOnly(
        models={"trunk": trunk},
        optimizers=optimizers,
        batch_size=64,
        loss_funcs={"metric_loss": loss},
        mining_funcs={"tuple_miner": miner} if miner is not False else {},
        dataset=datasets["train"],
        sampler=sampler,
        dataloader_num_workers=0,
        data_device=torch.device(device),
        end_of_iteration_hook=hooks.end_of_iteration_hook,
        end_of_epoch_hook=end_of_epoch,
        progress_bar=progress_bar,
        seed=seed,
    )
    trainer.train(num_epochs=epochs)
    final_tester = testers.GlobalEmbeddingSpaceTester(
        accuracy_calculator=calc,
        dataloader_num_workers=0,
        batch_size=256,
        visualizer=None if plot == "none" else plot,
        plot_folder=None if plot == "none" else out_dir / "plots",
    )
    final = final_tester.test(eval_splits, epochs, trunk)
    metrics = {split: {m: float(final[split][f"{m}_level0"]) for m in METRICS} for split in SPLITS}
    raw = {split: {m: float(v) for m, v in calc.get_accuracy(*data[split]).items()} for split in SPLITS}
    result = {"metrics": metrics, "raw_pixels": raw}
    from agnostic_ml._io import atomic_write_text

    atomic_write_text(out_dir / "metrics.json", json.dumps({**metrics, "raw_pixels": raw}, indent=2) + "\n")
    result.update(output=str(out_dir), seconds=time.perf_counter() - start)
    return result


def run(args: argparse.Namespace) -> int:
    """The training section of ``agnostic-ml demo`` (called by the core CLI)."""
    from agnostic_ml.cli._errors import CLIError
    from agnostic_ml.cli._format import table

    from . import losses, miners

    if args.epochs < 1:
        raise CLIError(f"--epochs must be a positive int, got {args.epochs}")
    try:
        torch.device(args.device)
    except (RuntimeError, TypeError):
        raise CLIError(f"--device must be a torch device such as 'cpu' or 'cuda', got {args.device!r}") from None
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise CLIError(f"--device {args.device}: torch sees no CUDA device")
    try:
        loss_params = _parse(args.loss_param, "--loss-param")
        if args.loss == "TripletMarginLoss" and not loss_params:
            loss_params = {"margin": 0.05}
        loss = _build(losses, args.loss, loss_params, "loss")
        miner_name = args.miner or "MultiSimilarityMiner"
        miner_params = _parse(args.param, "--param") if args.miner else {"epsilon": 0.1}
        miner = False if miner_name.lower() == "none" else _build(miners, miner_name, miner_params, "miner")
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    epochs = min(args.epochs, 3) if args.quick else args.epochs
    print("Training on scikit-learn's bundled digits (nothing downloaded): an MLP 64-128-64 embedder,")
    print(f"{type(loss).__name__} + {type(miner).__name__ if miner is not False else 'no miner'}, Adam 1e-3, "
          f"batches of 64 = 4 classes x 16 images (MPerClassSampler), {epochs} epochs, seed {args.seed}, device {args.device}.")
    print("Splits (each one is its own query and reference set):")
    for name, what in SPLITS.items():
        print(f"  {name:13s} {what}")
    res = train_and_evaluate(seed=args.seed, epochs=epochs, loss=loss, miner=miner, device=args.device,
                             output=args.output, plot=args.plot, quick=args.quick)
    rows = []
    for split in SPLITS:
        for m in METRICS:
            rows.append([split, m, f"{res['raw_pixels'][split][m]:.4f}", f"{res['metrics'][split][m]:.4f}"])
    print()
    print(table(["split", "metric", "raw pixels", "trained"], rows, align="llrr"))
    print()
    print(f"Written to {res['output']}: metrics.json, logs/ (CSV records), checkpoints/ (latest and best), "
          + ("plots/ (embedding space per split). " if args.plot != "none" else "")
          + f"Done in {res['seconds']:.1f} s.")
    return 0
