"""The ``agnostic-ml`` command: demo, mine, evaluate, check-miner, bench.

Every subcommand imports what it needs when it runs, so ``agnostic-ml --help`` is fast
and nothing here imports torch; CuPy is imported only for ``--device cuda``.

Exit codes: 0 success; 1 a ``check-miner`` invariant was violated (or a benchmark
failed); 2 bad usage or bad input (the message goes to stderr, without a traceback);
130 interrupted.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

__all__ = ["main", "build_parser", "CLIError", "available_miners", "make_miner", "parse_params"]

PROG = "agnostic-ml"

# Short names for ``--param distance=...`` (a call such as ``lp(p=1, power=2)`` also works).
DISTANCE_ALIASES = {
    "cosine": "CosineSimilarity",
    "lp": "LpDistance",
    "euclidean": "LpDistance",
    "dot": "DotProductSimilarity",
    "snr": "SNRDistance",
}

# What the demo mines with, when no --miner is given.
DEMO_MINERS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("MultiSimilarityMiner", {"epsilon": 0.1}),
    ("TripletMarginMiner", {"margin": 0.2, "type_of_triplets": "semihard"}),
    ("BatchHardMiner", {}),
)

BENCHMARKS = ("distances", "miners", "accuracy")


class CLIError(Exception):
    """A user-facing error: printed as ``agnostic-ml <cmd>: error: <msg>``, exit code 2."""


# ----------------------------------------------------------------------------------------
# entry point
# ----------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit code.

    Never raises ``SystemExit`` itself (argparse's exits are turned into return codes), so
    it can be called in-process: ``main(["demo"])``.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(None if argv is None else list(argv))
    except SystemExit as exc:  # --help, or a usage error (argparse prints the message)
        return _exit_code(exc)
    if getattr(args, "handler", None) is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.handler(args) or 0)
    except CLIError as exc:
        return _fail(args.command, str(exc))
    except BrokenPipeError:
        # stdout was closed early (e.g. piped into `head`): stop quietly, as Unix tools do.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 0
    except (ValueError, TypeError, OSError) as exc:
        # Bad input: the library raises ValueError/TypeError naming the argument.
        if os.environ.get("AGNOSTIC_ML_TRACEBACK"):
            raise
        return _fail(args.command, f"{exc}")
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


def _exit_code(exc: SystemExit) -> int:
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _fail(command: str, message: str) -> int:
    print(f"{PROG} {command}: error: {message}", file=sys.stderr)
    return 2


# ----------------------------------------------------------------------------------------
# argument parser
# ----------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of ``agnostic-ml`` (all subcommands)."""
    from . import __version__

    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Deep metric learning on any array backend: mine pairs/triplets, evaluate "
            "retrieval accuracy and check miners on NumPy (or CuPy) arrays."
        ),
        epilog="Run 'agnostic-ml demo' for a tour on bundled data (nothing is downloaded).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    # demo ------------------------------------------------------------------------------
    p = sub.add_parser(
        "demo",
        help="mine tuples and evaluate retrieval on scikit-learn's bundled digits",
        description=(
            "Load the 1797 8x8 digit images bundled with scikit-learn (nothing is downloaded), "
            "standardise the pixels, embed them with a fixed random projection (L2-normalised), "
            "mine pairs/triplets on a class-balanced batch with a few miners, and compare "
            "retrieval accuracy of raw pixels, the random projection and a PCA projection "
            "(every image queried against all the others)."
        ),
    )
    p.add_argument("--miner", metavar="NAME", help="mine with this miner only (default: "
                   + ", ".join(n for n, _ in DEMO_MINERS) + ")")
    _add_param_argument(p)
    p.add_argument("--seed", type=int, default=0, help="seed of the projection, batch and k-means (default 0)")
    p.add_argument("--dim", type=_positive_int, default=32, help="embedding dimension (default 32)")
    p.add_argument("--batch-size", type=_positive_int, default=200,
                   help="size of the class-balanced batch to mine on (default 200)")
    p.add_argument("--quick", action="store_true",
                   help="a smaller run (500 of the images, a batch of at most 100), for smoke tests")
    p.set_defaults(handler=_cmd_demo)

    # mine ------------------------------------------------------------------------------
    p = sub.add_parser(
        "mine",
        help="mine pairs or triplets from embeddings.npy + labels.npy",
        description=(
            "Mine index tuples with one miner and write them to an .npz file: keys a, p, n "
            "(triplets) or a1, p, a2, n (pairs). Anchors index the embeddings; positives "
            "and negatives index the reference set (the embeddings themselves by default)."
        ),
        epilog=(
            "--param values are Python literals (0.2, 'semihard', (0.1, 0.5), True), else strings. "
            "distance= takes cosine, lp, dot, snr or a call such as lp(p=1, power=2). "
            "Example: agnostic-ml mine --miner TripletMarginMiner --param type_of_triplets=semihard "
            "emb.npy labels.npy -o tuples.npz"
        ),
    )
    p.add_argument("--miner", required=True, metavar="NAME", help="miner class name, e.g. MultiSimilarityMiner")
    _add_param_argument(p)
    p.add_argument("embeddings", help="embeddings, a 2-D .npy array (n, d)")
    p.add_argument("labels", help="labels, a 1-D .npy array (n,)")
    p.add_argument("-o", "--output", metavar="TUPLES.npz", help="write the index tuples here (.npz)")
    p.add_argument("--ref-emb", metavar="REF.npy", help="reference embeddings (m, d)")
    p.add_argument("--ref-labels", metavar="REF_LABELS.npy", help="reference labels (m,)")
    _add_device_argument(p)
    p.add_argument("--seed", type=int, default=None, help="seed for miners that draw at random")
    p.set_defaults(handler=_cmd_mine)

    # evaluate --------------------------------------------------------------------------
    p = sub.add_parser(
        "evaluate",
        help="retrieval accuracy (precision@1, MAP@R, ...) of embeddings in .npy files",
        description=(
            "Compute AccuracyCalculator metrics. Without --reference every query is searched "
            "among the other queries (leave-one-out); with it, queries are searched in the "
            "reference set."
        ),
    )
    p.add_argument("query", help="query embeddings, a 2-D .npy array (n, d)")
    p.add_argument("query_labels", help="query labels, a 1-D .npy array (n,)")
    p.add_argument("--reference", nargs=2, metavar=("REF.npy", "REF_LABELS.npy"),
                   help="reference embeddings and labels")
    p.add_argument("--ref-includes-query", action="store_true",
                   help="the reference set starts with the queries (their self-matches are skipped)")
    p.add_argument("--metrics", nargs="+", metavar="METRIC", help="only these metrics (default: all)")
    p.add_argument("--exclude", nargs="+", metavar="METRIC", default=(), help="skip these metrics")
    p.add_argument("--k", type=_k_value, default=None, metavar="K|max_bin_count",
                   help="neighbours per query (default: all the reference set, as PML)")
    p.add_argument("--batch-size", type=_positive_int, default=None, metavar="B",
                   help="queries per kNN block (default: sized to a 256 MiB budget)")
    p.add_argument("--distance", default=None, metavar="DIST",
                   help="kNN distance: lp (Euclidean on the raw embeddings, the default), cosine, dot, "
                        "snr, or a call such as lp(p=1)")
    p.add_argument("--avg-of-avgs", action="store_true", help="average per class first, then over classes")
    p.add_argument("--seed", type=int, default=0, help="seed of k-means (AMI/NMI), default 0")
    p.add_argument("--json", action="store_true", help="print the metrics as a JSON object")
    p.add_argument("--no-progress", action="store_true", help="never show the progress bar")
    _add_device_argument(p)
    p.set_defaults(handler=_cmd_evaluate)

    # check-miner -----------------------------------------------------------------------
    p = sub.add_parser(
        "check-miner",
        help="run the agnostic_ml.testing invariants on a miner over random batches",
        description=(
            "Build the miner, call it on random batches (random sizes, labels, dimensions, "
            "with and without a reference set) and check every invariant of "
            "agnostic_ml.testing on each output. Exit code 1 if one is violated."
        ),
    )
    p.add_argument("miner", metavar="NAME", help="miner class name, e.g. BatchHardMiner")
    _add_param_argument(p)
    p.add_argument("--examples", type=_positive_int, default=50, help="number of random batches (default 50)")
    p.add_argument("--allow-duplicates", action="store_true",
                   help="a tuple may appear twice (miners that sample with replacement; "
                        "automatic for miners with an rng)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random batches (default 0)")
    p.set_defaults(handler=_cmd_check_miner)

    # bench -----------------------------------------------------------------------------
    p = sub.add_parser(
        "bench",
        help="run a benchmark script of a source checkout (compares with PML)",
        description=(
            "Run benchmarks/<name> from a source checkout of agnostic-ml (benchmarks are not "
            "part of the wheel). Remaining arguments go to the script."
        ),
    )
    p.add_argument("name", choices=BENCHMARKS, help="which benchmark")
    p.add_argument("script_args", nargs=argparse.REMAINDER, help="arguments for the benchmark script")
    p.set_defaults(handler=_cmd_bench)
    return parser


def _add_param_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="miner constructor argument (repeatable), e.g. --param epsilon=0.2")


def _add_device_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                   help="cpu: NumPy arrays; cuda: CuPy arrays on the GPU (needs the [cupy] extra)")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _k_value(text: str) -> int | str:
    if text == "max_bin_count":
        return text
    try:
        return _positive_int(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'max_bin_count', got {text!r}") from None


# ----------------------------------------------------------------------------------------
# miners and parameters
# ----------------------------------------------------------------------------------------


def available_miners() -> dict[str, type]:
    """Miner classes exported by ``agnostic_ml.miners`` (name -> class), BaseMiner excluded."""
    from . import miners

    names = getattr(miners, "__all__", None) or [n for n in dir(miners) if not n.startswith("_")]
    found = {}
    for name in names:
        obj = getattr(miners, name, None)
        if isinstance(obj, type) and issubclass(obj, miners.BaseMiner) and obj is not miners.BaseMiner:
            found[name] = obj
    return dict(sorted(found.items()))


def _norm_name(name: str) -> str:
    key = name.lower().replace("_", "").replace("-", "")
    return key[: -len("miner")] if key.endswith("miner") and len(key) > len("miner") else key


def find_miner(name: str) -> type:
    """The miner class called ``name`` (case, '_'/'-' and a 'Miner' suffix are optional)."""
    table = available_miners()
    if name in table:
        return table[name]
    matches = [cls for key, cls in table.items() if _norm_name(key) == _norm_name(name)]
    if len(matches) == 1:
        return matches[0]
    listing = ", ".join(table) if table else "(none: agnostic_ml.miners exports no miner)"
    raise CLIError(f"unknown miner {name!r}; available miners: {listing}")


def parse_params(items: Sequence[str]) -> dict[str, Any]:
    """Parse ``KEY=VALUE`` strings: values are Python literals, else plain strings.

    ``distance=`` values become distance objects (see :func:`make_distance`).

    >>> parse_params(["margin=0.1", "type_of_triplets=semihard", "allowed_pos_range=(0, 1)"])
    {'margin': 0.1, 'type_of_triplets': 'semihard', 'allowed_pos_range': (0, 1)}
    """
    params: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise CLIError(f"--param expects KEY=VALUE with KEY a Python identifier, got {item!r}")
        if key in params:
            raise CLIError(f"--param {key} was given twice")
        text = text.strip()
        if key == "distance":
            params[key] = make_distance(text)
            continue
        try:
            params[key] = ast.literal_eval(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            params[key] = text
    return params


def make_distance(spec: str) -> Any:
    """Build a distance from ``cosine``, ``lp``, ``dot``, ``snr``, a class name, or a call
    with literal keyword arguments such as ``lp(p=1, power=2)``."""
    from . import distances

    def lookup(name: str) -> type:
        cls_name = DISTANCE_ALIASES.get(name.lower(), name)
        cls = getattr(distances, cls_name, None)
        if not (isinstance(cls, type) and issubclass(cls, distances.BaseDistance)) or cls is distances.BaseDistance:
            choices = ", ".join(sorted(DISTANCE_ALIASES)) + " (or a class of agnostic_ml.distances)"
            raise CLIError(f"unknown distance {name!r}; expected one of {choices}")
        return cls

    try:
        node = ast.parse(spec.strip(), mode="eval").body
    except SyntaxError:
        raise CLIError(f"cannot parse distance {spec!r}; expected e.g. cosine or lp(p=1, power=2)") from None
    if isinstance(node, ast.Name):
        return lookup(node.id)()
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.args:
        cls = lookup(node.func.id)
        try:
            kwargs = {kw.arg: ast.literal_eval(kw.value) for kw in node.keywords if kw.arg is not None}
        except ValueError:
            raise CLIError(f"distance arguments must be literals, got {spec!r}") from None
        if len(kwargs) != len(node.keywords):
            raise CLIError(f"distance arguments must be keywords, got {spec!r}")
        try:
            return cls(**kwargs)
        except (TypeError, ValueError) as exc:
            raise CLIError(f"bad distance {spec!r}: {exc}") from None
    raise CLIError(f"cannot parse distance {spec!r}; expected e.g. cosine or lp(p=1, power=2)")


def make_miner(name: str, params: dict[str, Any], *, seed: int | None = None) -> Any:
    """Instantiate miner ``name`` with ``params``; unknown or bad parameters raise CLIError.

    A ``seed`` is passed as ``rng=`` to miners that take one (unless ``rng`` is in params).
    """
    cls = find_miner(name)
    accepted = _init_parameters(cls)
    if accepted is not None:
        unknown = sorted(set(params) - set(accepted))
        if unknown:
            raise CLIError(
                f"{cls.__name__} has no parameter {', '.join(unknown)}; "
                f"its parameters are: {', '.join(accepted) or '(none)'}"
            )
    kwargs = dict(params)
    if seed is not None and "rng" not in kwargs and accepted is not None and "rng" in accepted:
        kwargs["rng"] = seed
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise CLIError(f"bad parameter for {cls.__name__}: {exc}") from None


def _init_parameters(cls: type) -> list[str] | None:
    """Keyword parameters of ``cls.__init__`` (following ``**kwargs`` up the MRO); None if unknown."""
    names: list[str] = []
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        try:
            sig = inspect.signature(init)
        except (TypeError, ValueError):
            return None
        var_kw = False
        for p in list(sig.parameters.values())[1:]:
            if p.kind is p.VAR_KEYWORD:
                var_kw = True
            elif p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in names:
                names.append(p.name)
        if not var_kw:
            return names
    return None


def _miner_label(miner: Any, params: dict[str, Any]) -> str:
    shown = ", ".join(f"{k}={_short_repr(v)}" for k, v in params.items() if k != "rng")
    return f"{type(miner).__name__}({shown})"


def _short_repr(v: Any) -> str:
    if hasattr(v, "__module__") and str(getattr(type(v), "__module__", "")).startswith("agnostic_ml.distances"):
        return f"{type(v).__name__}()"
    return repr(v)


def _describe_tuples(out: tuple[Any, ...]) -> tuple[str, dict[str, int]]:
    """'pairs: 812 positive, 3311 negative' / 'triplets: 5012', plus the counts."""
    if len(out) == 4:
        pos, neg = int(out[0].shape[0]), int(out[2].shape[0])
        return f"pairs: {pos} positive, {neg} negative", {"positive_pairs": pos, "negative_pairs": neg}
    n = int(out[0].shape[0])
    return f"triplets: {n}", {"triplets": n}


def _tuple_keys(out: tuple[Any, ...]) -> tuple[str, ...]:
    return ("a1", "p", "a2", "n") if len(out) == 4 else ("a", "p", "n")


# ----------------------------------------------------------------------------------------
# loading arrays
# ----------------------------------------------------------------------------------------


def _load_npy(path: str, what: str) -> Any:
    import numpy as np

    p = Path(path)
    if not p.is_file():
        raise CLIError(f"{what}: no such file {path!r}")
    try:
        arr = np.load(p, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise CLIError(f"{what}: cannot read {path!r} as a .npy array ({exc})") from None
    if not isinstance(arr, np.ndarray):
        raise CLIError(f"{what}: {path!r} holds several arrays (.npz); pass a single-array .npy file")
    return arr


def _load_embeddings(path: str, what: str) -> Any:
    import numpy as np

    arr = _load_npy(path, what)
    if arr.ndim != 2:
        raise CLIError(f"{what} must be a 2-D array (n, d), got shape {arr.shape} from {path!r}")
    if not np.issubdtype(arr.dtype, np.floating):
        if np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_:
            arr = arr.astype(np.float32)
        else:
            raise CLIError(f"{what} must hold numbers, got dtype {arr.dtype} from {path!r}")
    bad = np.flatnonzero(~np.isfinite(arr).all(axis=1))
    if bad.size:
        raise CLIError(f"{what} has NaN or inf values in {bad.size} row(s) of {path!r}, first row {int(bad[0])}")
    return arr


def _load_labels(path: str, what: str, n: int) -> Any:
    arr = _load_npy(path, what)
    if arr.ndim != 1:
        raise CLIError(f"{what} must be a 1-D array, got shape {arr.shape} from {path!r}")
    if arr.shape[0] != n:
        raise CLIError(f"{what} has {arr.shape[0]} entries but the embeddings have {n} rows")
    return arr


def _import_cupy() -> Any:
    try:
        import cupy  # noqa: PLC0415 - only for --device cuda
    except ImportError:
        raise CLIError("--device cuda needs CuPy: pip install 'agnostic-ml[cupy]' (or cpu)") from None
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDARuntimeError when no driver/GPU is present
        raise CLIError(f"--device cuda: no usable CUDA GPU ({exc})") from None
    if count < 1:
        raise CLIError("--device cuda: CuPy sees no CUDA GPU")
    return cupy


def _to_device(arr: Any, device: str) -> Any:
    if device == "cuda":
        return _import_cupy().asarray(arr)
    return arr


# ----------------------------------------------------------------------------------------
# mine
# ----------------------------------------------------------------------------------------


def _cmd_mine(args: argparse.Namespace) -> int:
    import numpy as np

    from ._array_api import to_numpy

    if (args.ref_emb is None) != (args.ref_labels is None):
        raise CLIError("--ref-emb and --ref-labels go together: give both or neither")
    params = parse_params(args.param)
    miner = make_miner(args.miner, params, seed=args.seed)
    emb = _load_embeddings(args.embeddings, "embeddings")
    labels = _load_labels(args.labels, "labels", emb.shape[0])
    ref = ref_labels = None
    if args.ref_emb is not None:
        ref = _load_embeddings(args.ref_emb, "--ref-emb")
        if ref.shape[1] != emb.shape[1]:
            raise CLIError(f"--ref-emb has dimension {ref.shape[1]} but the embeddings have {emb.shape[1]}")
        if ref.dtype != emb.dtype:
            ref = ref.astype(np.result_type(ref.dtype, emb.dtype))
            emb = emb.astype(ref.dtype)
        ref_labels = _load_labels(args.ref_labels, "--ref-labels", ref.shape[0])
    emb_d = _to_device(emb, args.device)
    ref_d = None if ref is None else _to_device(ref, args.device)

    start = time.perf_counter()
    out = miner(emb_d, labels, ref_d, ref_labels)
    host = [np.asarray(to_numpy(t), dtype=np.int64) for t in out]
    elapsed = time.perf_counter() - start

    summary, _ = _describe_tuples(out)
    where = "the reference set" if ref is not None else "the batch itself"
    seeded = f" (rng seed {args.seed})" if args.seed is not None and hasattr(miner, "rng") else ""
    print(f"{_miner_label(miner, params)}{seeded} on {emb.shape[0]} embeddings "
          f"({emb.shape[1]}-D, {emb.dtype}, {args.device}); positives/negatives from {where}")
    print(summary)
    anchors = np.unique(np.concatenate([host[0], host[2]])) if len(host) == 4 else np.unique(host[0])
    print(f"anchors used: {anchors.size} of {emb.shape[0]}; mined in {elapsed:.3f} s")
    if args.output:
        keys = _tuple_keys(out)
        out_path = Path(args.output)
        if out_path.parent and not out_path.parent.exists():
            raise CLIError(f"-o: folder {str(out_path.parent)!r} does not exist")
        np.savez(out_path, **dict(zip(keys, host)))
        shown = out_path if out_path.suffix == ".npz" else Path(str(out_path) + ".npz")
        print(f"wrote {shown} (keys {', '.join(keys)})")
    return 0


# ----------------------------------------------------------------------------------------
# evaluate
# ----------------------------------------------------------------------------------------


def _accuracy_calculator(**kwargs: Any) -> Any:
    """``AccuracyCalculator(**kwargs)``; its ValueError/TypeError become clean CLI errors."""
    from .accuracy import AccuracyCalculator

    try:
        return AccuracyCalculator(**kwargs)
    except (TypeError, ValueError) as exc:
        raise CLIError(str(exc)) from None


def _knn_func(distance: str | None, batch_size: int | None) -> Any:
    """``ExactKNN`` with the requested distance (None: the calculator's default kNN)."""
    if distance is None:
        return None
    from .accuracy import ExactKNN
    from .distances import LpDistance

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


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    if args.ref_includes_query and not args.reference:
        raise CLIError("--ref-includes-query needs --reference")
    calc = _accuracy_calculator(
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
        query = _load_embeddings(args.query, "query")
        qlabels = _load_labels(args.query_labels, "query_labels", query.shape[0])
        ref = rlabels = None
        if args.reference:
            ref = _load_embeddings(args.reference[0], "--reference embeddings")
            rlabels = _load_labels(args.reference[1], "--reference labels", ref.shape[0])
            if ref.shape[1] != query.shape[1]:
                raise CLIError(f"--reference has dimension {ref.shape[1]} but the queries have {query.shape[1]}")
        query_d = _to_device(query, args.device)
        ref_d = None if ref is None else _to_device(ref, args.device)
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

    if args.json:
        print(json.dumps(result, indent=2, allow_nan=True))
        return 0
    n_ref = query.shape[0] if ref is None else ref.shape[0]
    mode = "leave-one-out (query = reference)" if ref is None else (
        "reference includes the queries" if args.ref_includes_query else "query vs reference")
    print(f"{query.shape[0]} queries, {n_ref} references, {query.shape[1]}-D; {mode}; k = "
          f"{args.k if args.k is not None else 'all'}; {elapsed:.2f} s")
    print(_table(["metric", "value"], [[name, _fmt(value)] for name, value in result.items()]))
    return 0


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4f}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return str(value)


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]], align: str | None = None) -> str:
    """A plain-text table. ``align`` has one letter per column, ``l`` or ``r``; by default the
    first column is left-aligned and the others right-aligned when every cell is a number."""
    cols = len(headers)
    cells = [[str(c) for c in r] for r in rows]
    widths = [max([len(str(headers[i]))] + [len(r[i]) for r in cells]) for i in range(cols)]
    if align is None:
        align = "".join("r" if i > 0 and cells and all(_is_number(r[i]) for r in cells) else "l" for i in range(cols))

    def line(items: Sequence[str]) -> str:
        out = [f"{items[i]:>{widths[i]}}" if align[i] == "r" else f"{items[i]:<{widths[i]}}" for i in range(cols)]
        return "  ".join(out).rstrip()

    sep = "  ".join("-" * w for w in widths)
    return "\n".join([line([str(h) for h in headers]), sep, *(line(r) for r in cells)])


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# ----------------------------------------------------------------------------------------
# demo
# ----------------------------------------------------------------------------------------


def _balanced_batch(labels: Any, size: int, rng: Any) -> Any:
    """Indices of a class-balanced batch: size // n_classes items of every class (fewer if a
    class is smaller), like PML's MPerClassSampler."""
    import numpy as np

    classes = np.unique(labels)
    per_class = max(2, size // classes.size)
    picks = [rng.choice(np.flatnonzero(labels == c), size=min(per_class, int(np.sum(labels == c))), replace=False)
             for c in classes]
    return np.sort(np.concatenate(picks))


def _cmd_demo(args: argparse.Namespace) -> int:
    import numpy as np

    from .datasets import load_digits, pca_projection, random_projection, standardize

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
    rng = np.random.default_rng(args.seed)
    x, y = load_digits()
    total = x.shape[0]
    batch_size = args.batch_size
    if args.quick:
        keep = _balanced_batch(y, 500, rng)
        x, y = x[keep], y[keep]
        batch_size = min(batch_size, 100)
    z = standardize(x)
    emb = random_projection(z, args.dim, rng=rng)
    print(f"digits (bundled with scikit-learn, nothing downloaded): {total} images of 8x8 pixels, "
          f"{np.unique(y).size} classes" + (f"; --quick: {x.shape[0]} of them" if args.quick else ""))
    print(f"embedding: standardised pixels -> fixed Gaussian random projection to {args.dim}-D "
          f"-> L2-normalised (seed {args.seed})")

    batch = _balanced_batch(y, batch_size, rng)
    emb_b, y_b = emb[batch], y[batch]
    print()
    print(f"Mining one class-balanced batch of {batch.size} embeddings "
          f"({batch.size // np.unique(y_b).size} per class) of the projection:")
    rows = []
    for miner, params in miners:
        start = time.perf_counter()
        out = miner(emb_b, y_b)
        ms = (time.perf_counter() - start) * 1e3
        summary, _ = _describe_tuples(out)
        kind, _, counts = summary.partition(": ")
        rows.append([_miner_label(miner, params), type(miner.distance).__name__, kind, counts, f"{ms:.0f} ms"])
    print(_table(["miner", "distance", "output", "count", "time"], rows, align="lllrr"))

    embeddings = [
        ("raw pixels", f"{x.shape[1]}-D", x),
        ("random proj.", f"{args.dim}-D", emb),
        ("PCA", f"{args.dim}-D", pca_projection(z, args.dim)),
    ]
    calc = _accuracy_calculator(include=(), exclude=(), k=None, rng=args.seed)
    print()
    print(f"Retrieval accuracy: every image queried against the other {x.shape[0] - 1} "
          "(AccuracyCalculator, all default metrics, exact kNN, k-means for AMI/NMI):")
    results = []
    for _, _, e in embeddings:
        results.append(calc.get_accuracy(e, y))
    metric_names = list(results[0])
    headers = ["metric", *(f"{name} ({dim})" for name, dim, _ in embeddings)]
    print(_table(headers, [[m, *(_fmt(r[m]) for r in results)] for m in metric_names]))
    print()
    print(f"done in {time.perf_counter() - t0:.1f} s. Next: 'agnostic-ml mine --help', "
          "'agnostic-ml evaluate --help'.")
    return 0


# ----------------------------------------------------------------------------------------
# check-miner
# ----------------------------------------------------------------------------------------


def _random_batch(rng: Any, *, with_ref: bool, degenerate: str | None = None) -> Any:
    """A random miner input on the host: sizes 2..40, dimension 2..8, 1..6 classes, float32
    or float64, sometimes with duplicated rows (exact distance ties)."""
    import numpy as np

    from .testing import MinerBatch

    def part(n: int, d: int, classes: int, dtype: Any) -> tuple[Any, Any]:
        emb = rng.standard_normal((n, d)).astype(dtype)
        if n > 2 and rng.random() < 0.3:  # exact ties
            src = rng.integers(0, n, size=max(1, n // 4))
            dst = rng.integers(0, n, size=src.size)
            emb[dst] = emb[src]
        if degenerate == "one class":
            labels = np.zeros(n, dtype=np.int64)
        elif degenerate == "distinct labels":
            labels = np.arange(n, dtype=np.int64) + (0 if not with_ref else 1000)
        else:
            labels = rng.integers(0, classes, size=n).astype(np.int64)
        return emb, labels

    d = int(rng.integers(2, 9))
    dtype = np.float32 if rng.random() < 0.5 else np.float64
    classes = int(rng.integers(1, 7))
    emb, labels = part(int(rng.integers(2, 41)), d, classes, dtype)
    if not with_ref:
        return MinerBatch(emb, labels)
    ref, ref_labels = part(int(rng.integers(1, 41)), d, classes, dtype)
    return MinerBatch(emb, labels, ref, ref_labels)


def _cmd_check_miner(args: argparse.Namespace) -> int:
    import numpy as np

    from .testing import check_miner_output

    params = parse_params(args.param)
    factory = lambda: make_miner(args.miner, params, seed=args.seed)  # noqa: E731 - fresh state per batch
    miner = factory()
    label = _miner_label(miner, params)
    random_miner = hasattr(miner, "rng")
    allow_dup = args.allow_duplicates or random_miner
    rng = np.random.default_rng(args.seed)

    names = {
        "contract": "valid tuples, no reference set",
        "contract_ref": "valid tuples, with a reference set",
        "degenerate": "one-class / all-distinct batches: valid (empty) tuples",
        "deterministic": "same seed -> same tuples",
        "strict": "same tuples on array-api-strict",
        "errors": "rejects input only with ValueError/TypeError",
    }
    failures: dict[str, str] = {}
    checked = dict.fromkeys(names, 0)
    rejected = 0

    def run(key: str, batch: Any) -> Any:
        nonlocal rejected
        m = factory()
        labels, emb = batch.labels, batch.embeddings
        try:
            if batch.has_ref:
                out = m(*batch.args())
            elif hasattr(m, "mine_extended"):
                # HardClusterMiner and the memory-bank miners index [batch; centres or bank]
                # (documented): check them against that extended set.
                ext = m.mine_extended(batch.embeddings, batch.labels)
                out, labels, emb = ext.indices, ext.labels, ext.embeddings
            else:
                out = m(batch.embeddings, batch.labels)
        except (ValueError, TypeError):
            rejected += 1
            return None
        except Exception as exc:  # noqa: BLE001 - reported as a violation
            failures.setdefault("errors", f"{type(exc).__name__}: {exc}")
            return None
        try:
            host = check_miner_output(out, labels, batch.ref_labels, embeddings=emb,
                                      ref_emb=batch.ref_emb, allow_duplicates=allow_dup)
        except AssertionError as exc:
            failures.setdefault(key, str(exc))
            return None
        checked[key] += 1
        return host

    strict = _strict_namespace()
    for i in range(args.examples):
        with_ref = i % 2 == 1
        batch = _random_batch(rng, with_ref=with_ref)
        host = run("contract_ref" if with_ref else "contract", batch)
        if host is not None and i < max(4, args.examples // 5):
            again = run("deterministic", batch)
            if again is not None and not all(np.array_equal(x, y) for x, y in zip(host, again)):
                failures.setdefault("deterministic", f"batch #{i}: two fresh miners with seed {args.seed} "
                                    f"returned {[len(h) for h in host]} vs {[len(h) for h in again]} indices")
            if strict is not None:
                _check_on_strict(factory, batch, host, strict, failures, checked)
        if i < max(2, args.examples // 10):
            for kind in ("one class", "distinct labels"):
                run("degenerate", _random_batch(rng, with_ref=with_ref, degenerate=kind))
    checked["errors"] = args.examples

    print(f"{label}: {args.examples} random batches (seed {args.seed}); "
          f"duplicates {'allowed' if allow_dup else 'not allowed'}"
          + (" (the miner samples at random)" if random_miner and not args.allow_duplicates else ""))
    rows = []
    for key, text in names.items():
        if key in failures:
            rows.append([text, "FAIL", failures[key]])
        elif key == "strict" and strict is None:
            rows.append([text, "skip", "array-api-strict is not installed"])
        elif checked[key] == 0:
            rows.append([text, "skip", "no batch was accepted by the miner"])
        else:
            rows.append([text, "pass", f"{checked[key]} checked"])
    print(_table(["invariant", "result", "detail"], rows))
    if rejected:
        print(f"{rejected} random batch(es) were rejected with ValueError/TypeError (allowed).")
    print("all invariants hold" if not failures else f"{len(failures)} invariant(s) violated")
    return 1 if failures else 0


def _strict_namespace() -> Any:
    try:
        import array_api_strict  # noqa: PLC0415 - optional, from the [test] extra
    except ImportError:
        return None
    return array_api_strict


def _check_on_strict(factory: Callable[[], Any], batch: Any, host: tuple[Any, ...], strict: Any,
                     failures: dict[str, str], checked: dict[str, int]) -> None:
    import numpy as np

    from ._array_api import to_numpy

    sb = batch.to(strict)
    try:
        out = factory()(*sb.args()) if sb.has_ref else factory()(sb.embeddings, sb.labels)
    except Exception as exc:  # noqa: BLE001 - a difference between backends
        failures.setdefault("strict", f"{type(exc).__name__}: {exc}")
        return
    got = [np.asarray(to_numpy(t)) for t in out]
    if len(got) != len(host) or not all(np.array_equal(x, y) for x, y in zip(got, host)):
        failures.setdefault("strict", f"NumPy gave {[len(h) for h in host]} indices, "
                            f"array-api-strict {[len(g) for g in got]} (or a different order)")
        return
    checked["strict"] += 1


# ----------------------------------------------------------------------------------------
# bench
# ----------------------------------------------------------------------------------------


def find_benchmarks_dir() -> Path | None:
    """``benchmarks/`` of the source checkout this package runs from (None in a wheel).

    ``AGNOSTIC_ML_BENCHMARKS`` overrides; then the folder beside the package; then the
    current directory, when it is an agnostic-ml checkout.
    """
    env = os.environ.get("AGNOSTIC_ML_BENCHMARKS")
    candidates = [Path(env)] if env else []
    root = Path(__file__).resolve().parent.parent
    candidates += [root / "benchmarks", Path.cwd() / "benchmarks"]
    for c in candidates:
        if c.is_dir() and (env or (c.parent / "pyproject.toml").is_file()):
            return c
    return None


def find_benchmark(name: str, folder: Path) -> Path | None:
    """The script of benchmark ``name`` in ``folder`` (bench_<name>.py, <name>.py, ...)."""
    for pattern in (f"bench_{name}.py", f"{name}.py", f"bench_{name}*.py", f"{name}_*.py", f"*{name}*.py"):
        hits = sorted(folder.glob(pattern))
        if hits:
            return hits[0]
    return None


def _cmd_bench(args: argparse.Namespace) -> int:
    folder = find_benchmarks_dir()
    if folder is None:
        raise CLIError(
            "benchmarks run from a source checkout of agnostic-ml (they are not installed with "
            "the wheel): git clone the repository, pip install -e '.[bench]', then run "
            "'agnostic-ml bench ...' there (or set AGNOSTIC_ML_BENCHMARKS to its benchmarks/ folder)"
        )
    script = find_benchmark(args.name, folder)
    if script is None:
        raise CLIError(f"no {args.name} benchmark script in {folder}")
    extra = list(args.script_args)
    if extra[:1] == ["--"]:
        extra = extra[1:]
    cmd = [sys.executable, str(script), *extra]
    print(f"running {' '.join(cmd)}", file=sys.stderr)
    return subprocess.call(cmd, cwd=str(folder.parent))


if __name__ == "__main__":
    sys.exit(main())
