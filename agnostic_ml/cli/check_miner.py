"""``agnostic-ml check-miner``: the property test of :mod:`agnostic_ml.testing` on any miner.

The command is a thin shell over :func:`agnostic_ml.testing.property_test_miner`: the
same hypothesis batches, backends, checks and minimal-failing-batch report that a
user's pytest test gets from that one call.
"""

from __future__ import annotations

import argparse
import copy
from typing import Any

from ._args import add_param_argument, positive_int
from ._errors import CLIError
from ._parser import Command
from ._format import miner_label, print_property_outcome
from ._registry import load_object, make_miner, miner_class, parse_params

__all__ = ["COMMAND"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("miner", metavar="MINER",
                   help="a miner of agnostic_ml.miners (e.g. BatchHardMiner), or your own: "
                        "package.module:ClassName or path/to/file.py:ClassName")
    add_param_argument(p)
    p.add_argument("--backend", metavar="NAMES", default=None,
                   help="comma-separated backends to run on, e.g. numpy,torch (default: those installed of "
                        "numpy, torch, array_api_strict, torch_cuda, cupy; array_api_strict_strictest runs "
                        "only when named)")
    p.add_argument("--examples", type=positive_int, default=50,
                   help="hypothesis batches to draw, each run on every backend (default 50)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the batches and of the miner's rng (default 0)")
    p.add_argument("--allow-duplicates", action="store_true",
                   help="a tuple may appear twice (miners that sample with replacement; "
                        "automatic for miners with an rng)")
    p.add_argument("--calls", type=positive_int, default=1,
                   help="calls of each fresh miner per batch (2 or more for miners with a memory bank)")
    p.add_argument("--max-n", type=positive_int, default=16, metavar="N",
                   help="largest batch (and reference set) drawn (default 16)")
    p.add_argument("--rule", metavar="MODULE:FUNCTION", default=None,
                   help="the miner's selection rule, rule(mat, output) -> bools, checked on every tuple "
                        "(see agnostic_ml.testing.check_miner's condition)")


def _factory(spec: str, params: dict[str, Any]) -> tuple[Any, str]:
    """A zero-argument function building a fresh, configured miner (bad parameters fail
    now, as usage errors), and the miner's label."""
    probe = make_miner(spec, params)
    cls = miner_class(spec)
    return (lambda: cls(**copy.deepcopy(params))), miner_label(probe, params)


def run(args: argparse.Namespace) -> int:
    from ..testing.backends import BackendUnavailable, parse_backend_names

    try:
        from ..testing.property_test import MinerPropertyError, property_test_miner
    except ModuleNotFoundError as exc:
        if exc.name != "hypothesis":
            raise
        raise CLIError("check-miner draws its batches with hypothesis, which is not installed: "
                       "pip install 'agnostic-ml[testing]'") from None

    params = parse_params(args.param)
    factory, label = _factory(args.miner, params)
    backends = None
    if args.backend is not None:
        try:
            backends = parse_backend_names(args.backend)
        except ValueError as exc:
            raise CLIError(f"--backend: {exc}") from None
    rule = None
    if args.rule is not None:
        rule = load_object(args.rule, "--rule")
        if not callable(rule):
            raise CLIError(f"--rule {args.rule!r} is a {type(rule).__name__}, not a function")
    try:
        report = property_test_miner(
            factory, backends=backends, selection_rule=rule, allow_duplicates=True if args.allow_duplicates else None,
            max_examples=args.examples, seed=args.seed, rng_seed=args.seed, calls=args.calls, max_n=args.max_n,
            name=label,
        )
    except BackendUnavailable as exc:
        raise CLIError(f"--backend: {exc}") from None
    except MinerPropertyError as exc:
        return print_property_outcome(exc.report, exc)
    return print_property_outcome(report)


COMMAND = Command(
    name="check-miner",
    help="property-test a miner (ours or yours) with the agnostic_ml.testing kit",
    description=(
        "Build the miner (a fresh one per call), call it on hypothesis batches (exact distance "
        "ties, duplicated rows, one class, all-distinct labels, N = 0 and 1, with and without a "
        "reference set) on every installed backend, and check the miner contract, determinism, "
        "the same tuples on every backend and (with --rule) the miner's selection rule. "
        "Exit code 1 with the minimal failing batch if a check fails."
    ),
    epilog=(
        "Examples: agnostic-ml check-miner BatchHardMiner; "
        "agnostic-ml check-miner my_project.miners:MarginPairMiner --param margin=0.3 --backend numpy,torch; "
        "agnostic-ml check-miner path/to/my_miner.py:MyMiner --examples 200"
    ),
    add_arguments=add_arguments,
    run=run,
)
