"""``agnostic-ml demo``: train, or mine and evaluate, on scikit-learn's bundled digits (nothing downloaded).

By default the demo *trains* an embedder with the torch adapter (losses, miners, samplers,
trainers, testers, logging hooks) and evaluates it on classes seen and unseen in training:
that section lives in the adapter (``agnostic_ml_torch.demo``) and is found through the
``agnostic_ml.demo`` entry point, so this package never imports torch or the adapter.
``--no-train`` runs the torch-free demo: a sequence of *sections* that share one
:class:`DemoData`, the mining section (:func:`mining_section`) and the retrieval-accuracy
section (:func:`accuracy_section`), on NumPy only.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from typing import Any

from ._args import add_param_argument, positive_int
from ._errors import CLIError
from ._format import describe_tuples, fmt, miner_label, table
from ._parser import Command
from ._registry import make_miner, parse_params

__all__ = ["COMMAND", "DEMO_MINERS", "DemoData", "accuracy_section", "load_data", "mining_section"]

# What the demo mines with, when no --miner is given.
DEMO_MINERS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("MultiSimilarityMiner", {"epsilon": 0.1}),
    ("TripletMarginMiner", {"margin": 0.2, "type_of_triplets": "semihard"}),
    ("BatchHardMiner", {}),
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-train", action="store_true",
                   help="the torch-free demo: mine and evaluate a random projection instead of training")
    p.add_argument("--miner", metavar="NAME", help="training: the miner (default MultiSimilarityMiner, "
                   "epsilon=0.1; 'none' for no miner); --no-train: mine with this miner only (default: "
                   + ", ".join(n for n, _ in DEMO_MINERS) + ")")
    add_param_argument(p)
    p.add_argument("--seed", type=int, default=0, help="seed of the projection, batch and k-means (default 0)")
    p.add_argument("--dim", type=positive_int, default=32, help="embedding dimension (default 32)")
    p.add_argument("--batch-size", type=positive_int, default=200,
                   help="size of the class-balanced batch to mine on (default 200)")
    p.add_argument("--quick", action="store_true",
                   help="a smaller run, for smoke tests (training: a third of the images, at most 3 epochs; "
                   "--no-train: 500 of the images, a batch of at most 100)")
    t = p.add_argument_group("training (without --no-train; needs the [torch] extra)")
    t.add_argument("--loss", default="TripletMarginLoss", metavar="NAME",
                   help="loss of agnostic_ml_torch.losses to train with (default TripletMarginLoss)")
    t.add_argument("--loss-param", action="append", default=[], metavar="KEY=VALUE",
                   help="a loss argument (repeatable; default for TripletMarginLoss: margin=0.05)")
    t.add_argument("--epochs", type=positive_int, default=40, help="training epochs, one pass over the training split each (default 40)")
    t.add_argument("--device", default="cpu", help="torch device to train on (default cpu)")
    t.add_argument("--output", default=None, metavar="DIR",
                   help="folder for metrics.json, the CSV log, the checkpoints and the PNGs (default: a new temporary folder)")
    t.add_argument("--plot", default="auto", choices=("auto", "tsne", "pca", "none"),
                   help="embedding-space PNG per split: UMAP if installed, else t-SNE (auto); tsne; pca; none")


@dataclass
class DemoData:
    """The digits and their embeddings, shared by the demo's sections.

    ``x`` raw pixels (n, 64), ``y`` labels, ``z`` standardised pixels, ``emb`` the fixed
    random projection (n, dim), L2-normalised; ``total`` images before ``--quick``;
    ``rng`` the demo's generator (seeded by ``--seed``); ``batch_size`` what to mine on.
    """

    x: Any
    y: Any
    z: Any
    emb: Any
    total: int
    rng: Any
    batch_size: int


def balanced_batch(labels: Any, size: int, rng: Any) -> Any:
    """Indices of a class-balanced batch: size // n_classes items of every class (fewer if a
    class is smaller), like PML's MPerClassSampler."""
    import numpy as np

    classes = np.unique(labels)
    per_class = max(2, size // classes.size)
    picks = [rng.choice(np.flatnonzero(labels == c), size=min(per_class, int(np.sum(labels == c))), replace=False)
             for c in classes]
    return np.sort(np.concatenate(picks))


def load_data(args: argparse.Namespace) -> DemoData:
    """Load the digits (a subset with ``--quick``), standardise and project them; print what was done."""
    import numpy as np

    from ..datasets import load_digits, random_projection, standardize

    rng = np.random.default_rng(args.seed)
    x, y = load_digits()
    total = x.shape[0]
    batch_size = args.batch_size
    if args.quick:
        keep = balanced_batch(y, 500, rng)
        x, y = x[keep], y[keep]
        batch_size = min(batch_size, 100)
    z = standardize(x)
    emb = random_projection(z, args.dim, rng=rng)
    print(f"digits (bundled with scikit-learn, nothing downloaded): {total} images of 8x8 pixels, "
          f"{np.unique(y).size} classes" + (f"; --quick: {x.shape[0]} of them" if args.quick else ""))
    print(f"embedding: standardised pixels -> fixed Gaussian random projection to {args.dim}-D "
          f"-> L2-normalised (seed {args.seed})")
    return DemoData(x, y, z, emb, total, rng, batch_size)


def mining_section(args: argparse.Namespace, data: DemoData, miners: list[tuple[Any, dict[str, Any]]]) -> None:
    """Mine one class-balanced batch of the projection with each miner; print the counts."""
    import numpy as np

    batch = balanced_batch(data.y, data.batch_size, data.rng)
    emb_b, y_b = data.emb[batch], data.y[batch]
    print()
    print(f"Mining one class-balanced batch of {batch.size} embeddings "
          f"({batch.size // np.unique(y_b).size} per class) of the projection:")
    rows = []
    for miner, params in miners:
        start = time.perf_counter()
        out = miner(emb_b, y_b)
        ms = (time.perf_counter() - start) * 1e3
        summary, _ = describe_tuples(out)
        kind, _, counts = summary.partition(": ")
        rows.append([miner_label(miner, params), type(miner.distance).__name__, kind, counts, f"{ms:.0f} ms"])
    print(table(["miner", "distance", "output", "count", "time"], rows, align="lllrr"))


def accuracy_section(args: argparse.Namespace, data: DemoData, embeddings: list[tuple[str, str, Any]]) -> None:
    """Leave-one-out retrieval accuracy of each ``(name, dimension text, embeddings)``."""
    from .evaluate import accuracy_calculator

    calc = accuracy_calculator(include=(), exclude=(), k=None, rng=args.seed)
    print()
    print(f"Retrieval accuracy: every image queried against the other {data.x.shape[0] - 1} "
          "(AccuracyCalculator, all default metrics, exact kNN, k-means for AMI/NMI):")
    results = [calc.get_accuracy(e, data.y) for _, _, e in embeddings]
    metric_names = list(results[0])
    headers = ["metric", *(f"{name} ({dim})" for name, dim, _ in embeddings)]
    print(table(headers, [[m, *(fmt(r[m]) for r in results)] for m in metric_names]))


def training_section() -> Any:
    """The adapter's training demo (``run(args)``) registered under the ``agnostic_ml.demo`` entry point, or None."""
    from importlib.metadata import entry_points

    for ep in entry_points(group="agnostic_ml.demo"):
        if ep.name == "train":
            try:
                return ep.load()
            except ImportError:  # the [torch] extra is not installed
                return None
    return None


def run(args: argparse.Namespace) -> int:
    if args.param and not args.miner:
        raise CLIError("--param needs --miner")
    if not args.no_train:
        train = training_section()
        if train is None:
            raise CLIError(
                "the training demo needs torch: pip install 'agnostic-ml[torch]' "
                "(or run 'agnostic-ml demo --no-train', which mines and evaluates without torch)"
            )
        if args.output is not None:  # check the output folder before training, not after
            from pathlib import Path

            from .._io import check_writable

            out = Path(args.output)
            if out.exists() and not out.is_dir():
                raise CLIError(f"--output: {str(out)!r} is a file, not a folder")
            try:
                out.mkdir(parents=True, exist_ok=True)
                check_writable(out / "metrics.json", what="--output")
            except OSError as exc:
                raise CLIError(str(exc)) from None
        return train(args)
    return run_no_train(args)


def run_no_train(args: argparse.Namespace) -> int:
    from ..datasets import pca_projection

    if args.param and not args.miner:
        raise CLIError("--param needs --miner")
    if args.dim > 64:
        raise CLIError(f"--dim must be at most 64 (the digits have 64 pixels), got {args.dim}")
    if args.miner:
        plan = [(args.miner, parse_params(args.param))]
    else:
        plan = [(name, dict(params)) for name, params in DEMO_MINERS]
    miners = [(make_miner(name, params, seed=args.seed), params) for name, params in plan]

    t0 = time.perf_counter()
    data = load_data(args)
    mining_section(args, data, miners)
    accuracy_section(args, data, [
        ("raw pixels", f"{data.x.shape[1]}-D", data.x),
        ("random proj.", f"{args.dim}-D", data.emb),
        ("PCA", f"{args.dim}-D", pca_projection(data.z, args.dim)),
    ])
    print()
    print(f"done in {time.perf_counter() - t0:.1f} s. Next: 'agnostic-ml mine --help', "
          "'agnostic-ml evaluate --help'.")
    return 0


COMMAND = Command(
    name="demo",
    help="mine tuples and evaluate retrieval on scikit-learn's bundled digits",
    description=(
        "Load the 1797 8x8 digit images bundled with scikit-learn (nothing is downloaded), "
        "standardise the pixels, embed them with a fixed random projection (L2-normalised), "
        "mine pairs/triplets on a class-balanced batch with a few miners, and compare "
        "retrieval accuracy of raw pixels, the random projection and a PCA projection "
        "(every image queried against all the others)."
    ),
    add_arguments=add_arguments,
    run=run,
)
