"""``agnostic-ml evaluate``: AccuracyCalculator metrics of embeddings in .npy files."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from ._args import add_device_argument, k_value, positive_int
from ._errors import CLIError
from ._files import load_embeddings, load_labels, output_path, to_device, write_output
from ._format import fmt, table
from ._parser import Command
from ._registry import make_distance

__all__ = ["COMMAND", "accuracy_calculator", "evaluation_phases"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("query", help="query embeddings, a 2-D .npy array (n, d)")
    p.add_argument("query_labels", help="query labels, a 1-D .npy array (n,)")
    p.add_argument("--reference", nargs=2, metavar=("REF.npy", "REF_LABELS.npy"),
                   help="reference embeddings and labels")
    p.add_argument("--ref-includes-query", action="store_true",
                   help="the reference set starts with the queries (their self-matches are skipped)")
    p.add_argument("--metrics", nargs="+", metavar="METRIC", help="only these metrics (default: all)")
    p.add_argument("--exclude", nargs="+", metavar="METRIC", default=(), help="skip these metrics")
    p.add_argument("--k", type=k_value, default=None, metavar="K|max_bin_count",
                   help="neighbours per query (default: all the reference set, as PML)")
    p.add_argument("--batch-size", type=positive_int, default=None, metavar="B",
                   help="queries per kNN block (default: sized to a 256 MiB budget)")
    p.add_argument("--distance", default=None, metavar="DIST",
                   help="kNN distance: lp (Euclidean on the raw embeddings, the default), cosine, dot, "
                        "snr, or a call such as lp(p=1)")
    p.add_argument("--avg-of-avgs", action="store_true", help="average per class first, then over classes")
    p.add_argument("--seed", type=int, default=0, help="seed of k-means (AMI/NMI), default 0")
    p.add_argument("--json", action="store_true", help="print the metrics as a JSON object")
    p.add_argument("-o", "--output", metavar="METRICS.json",
                   help="also write the metrics as JSON to this file (atomically, checked before computing)")
    p.add_argument("--no-progress", action="store_true", help="never show the progress bar")
    add_device_argument(p)


def accuracy_calculator(**kwargs: Any) -> Any:
    """``AccuracyCalculator(**kwargs)``; its ValueError/TypeError become clean CLI errors."""
    from ..accuracy import AccuracyCalculator

    try:
        return AccuracyCalculator(**kwargs)
    except (TypeError, ValueError) as exc:
        raise CLIError(str(exc)) from None


def _knn_func(distance: str | None, batch_size: int | None) -> Any:
    """``ExactKNN`` with the requested distance (None: the calculator's default kNN)."""
    if distance is None:
        return None
    from ..accuracy import ExactKNN
    from ..distances import LpDistance

    dist = make_distance(distance)
    if isinstance(dist, LpDistance) and "(" not in distance:
        # a bare "lp" means the evaluation default: Euclidean on the raw embeddings
        dist = LpDistance(normalize_embeddings=False)
    return ExactKNN(distance=dist, block_size=batch_size)


def evaluation_phases(calc: Any) -> list[tuple[str, tuple[str, ...]]]:
    """Split the calculator's metrics into phases (kNN metrics, then clustering metrics) that
    can be computed by separate ``get_accuracy(include=...)`` calls with the same result."""
    names = calc.get_curr_metrics()
    clustering = set(calc.requires_clustering())
    phases = [("kNN metrics", tuple(n for n in names if n not in clustering)),
              ("k-means (AMI/NMI)", tuple(n for n in names if n in clustering))]
    return [(label, part) for label, part in phases if part]


def run(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    if args.ref_includes_query and not args.reference:
        raise CLIError("--ref-includes-query needs --reference")
    out_path = output_path(args.output, "-o") if args.output else None
    calc = accuracy_calculator(
        include=tuple(args.metrics or ()), exclude=tuple(args.exclude), k=args.k, avg_of_avgs=args.avg_of_avgs,
        knn_func=_knn_func(args.distance, args.batch_size), block_size=args.batch_size, rng=args.seed,
    )
    order = calc.get_curr_metrics()  # before get_accuracy(include=...) changes it (as PML's does)
    phases = evaluation_phases(calc)
    # disable=None: tqdm draws the bar only when stderr is a terminal.
    bar = tqdm(total=1 + len(phases), desc="evaluate", unit="phase", file=sys.stderr,
               disable=True if args.no_progress else None, leave=False)
    result: dict[str, Any] = {}
    try:
        bar.set_postfix_str("loading arrays")
        query = load_embeddings(args.query, "query")
        qlabels = load_labels(args.query_labels, "query_labels", query.shape[0])
        ref = rlabels = None
        if args.reference:
            ref = load_embeddings(args.reference[0], "--reference embeddings")
            rlabels = load_labels(args.reference[1], "--reference labels", ref.shape[0])
            if ref.shape[1] != query.shape[1]:
                raise CLIError(f"--reference has dimension {ref.shape[1]} but the queries have {query.shape[1]}")
        query_d = to_device(query, args.device)
        ref_d = None if ref is None else to_device(ref, args.device)
        bar.update(1)
        start = time.perf_counter()
        for label, part in phases:
            bar.set_postfix_str(label)
            if ref_d is None:
                result.update(calc.get_accuracy(query_d, qlabels, include=part))
            else:
                result.update(calc.get_accuracy(query_d, qlabels, ref_d, rlabels,
                                                ref_includes_query=args.ref_includes_query, include=part))
            bar.update(1)
        elapsed = time.perf_counter() - start
    finally:
        bar.close()
    result = {name: result[name] for name in order if name in result}
    text = json.dumps(result, indent=2, allow_nan=True)
    if out_path is not None:
        write_output(out_path, "-o", lambda f: f.write((text + "\n").encode("utf-8")))

    if args.json:
        print(text)
        return 0
    n_ref = query.shape[0] if ref is None else ref.shape[0]
    mode = "leave-one-out (query = reference)" if ref is None else (
        "reference includes the queries" if args.ref_includes_query else "query vs reference")
    print(f"{query.shape[0]} queries, {n_ref} references, {query.shape[1]}-D; {mode}; k = "
          f"{args.k if args.k is not None else 'all'}; {elapsed:.2f} s")
    print(table(["metric", "value"], [[name, fmt(value)] for name, value in result.items()]))
    if out_path is not None:
        print(f"wrote {out_path}")
    return 0


COMMAND = Command(
    name="evaluate",
    help="retrieval accuracy (precision@1, MAP@R, ...) of embeddings in .npy files",
    description=(
        "Compute AccuracyCalculator metrics. Without --reference every query is searched "
        "among the other queries (leave-one-out); with it, queries are searched in the "
        "reference set."
    ),
    add_arguments=add_arguments,
    run=run,
)
