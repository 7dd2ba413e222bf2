"""``agnostic-ml check-loss``: the loss property test of :mod:`agnostic_ml.testing` on any loss.

A thin shell over :func:`agnostic_ml.testing.property_test_loss`: the same hypothesis
batches, invariants and minimal-failing-batch report that a user's pytest test gets from
that one call. Losses are built from :mod:`agnostic_ml_torch.losses` (built-in names) or
from the user's ``package.module:ClassName`` / ``path/to/file.py:ClassName``.
"""

from __future__ import annotations

import argparse
import copy
import inspect
from typing import Any

from ._args import add_param_argument, positive_int
from ._errors import CLIError
from ._format import print_property_outcome
from ._parser import Command
from ._registry import _is_spec, _norm_name, check_params, load_object, parse_params

__all__ = ["COMMAND", "available_losses", "find_loss"]

#: Bases and mixins of agnostic_ml_torch.losses that are not losses to check.
_NOT_LOSSES = ("BaseLossWrapper", "BaseMetricLossFunction", "EmbeddingRegularizerMixin", "GenericPairLoss",
               "WeightMixin", "WeightRegularizerMixin")

#: Sizes given to required constructor arguments the user did not set (class weights need them).
_SIZE_DEFAULTS = {"num_classes": 4, "embedding_size": 6, "descriptors_dim": 6, "l": 6, "K": 4}


def available_losses() -> dict[str, type]:
    """The losses of ``agnostic_ml_torch.losses`` (name -> class), bases and mixins left out."""
    from agnostic_ml_torch import losses

    return {n: getattr(losses, n) for n in sorted(losses.__all__)
            if n not in _NOT_LOSSES and isinstance(getattr(losses, n), type)}


def _key(name: str) -> str:
    key = _norm_name(name)
    return key[: -len("loss")] if key.endswith("loss") and len(key) > len("loss") else key


def find_loss(name: str) -> type:
    """The loss class called ``name`` (case, '_'/'-' and a 'Loss' suffix are optional)."""
    table = available_losses()
    if name in table:
        return table[name]
    matches = [cls for n, cls in table.items() if _key(n) == _key(name)]
    if len(matches) == 1:
        return matches[0]
    raise CLIError(f"unknown loss {name!r}; available losses: {', '.join(table)} "
                   "(or your own: package.module:ClassName or path/to/file.py:ClassName)")


def loss_class(name: str) -> Any:
    """A built-in loss name or ``module:Class`` / ``file.py:Class``."""
    if _is_spec(name):
        obj = load_object(name, "loss")
        if not callable(obj):
            raise CLIError(f"loss {name!r} is a {type(obj).__name__}, not a class or a factory")
        return obj
    if name.endswith(".py"):
        raise CLIError(f"loss {name!r}: name the class too, e.g. {name}:MyLoss")
    return find_loss(name)


def _required_sizes(cls: Any, params: dict[str, Any]) -> dict[str, Any]:
    """Defaults for required size arguments (``num_classes``, ``embedding_size``, ...) not given."""
    try:
        sig = inspect.signature(cls)
    except (TypeError, ValueError):
        return {}
    return {p.name: _SIZE_DEFAULTS[p.name] for p in sig.parameters.values()
            if p.default is p.empty and p.name in _SIZE_DEFAULTS and p.name not in params
            and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def _factory(spec: str, params: dict[str, Any]) -> tuple[Any, str, dict[str, Any]]:
    """A zero-argument function building the configured loss (bad parameters fail now, as usage
    errors), its label, and the size arguments filled in."""
    cls = loss_class(spec)
    check_params(cls, params)
    filled = _required_sizes(cls, params)
    kwargs = {**params, **filled}
    label = getattr(cls, "__name__", spec)
    try:
        cls(**copy.deepcopy(kwargs))
    except (TypeError, ValueError) as exc:
        raise CLIError(f"bad parameter for {label}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - a user's class may raise anything while building
        raise CLIError(f"building {label}({', '.join(kwargs)}) failed: {type(exc).__name__}: {exc}") from None
    shown = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
    return (lambda: cls(**copy.deepcopy(kwargs))), f"{label}({shown})", filled


def _skips(items: list[str]) -> dict[str, str]:
    from ..testing.loss_checks import LOSS_CHECKS

    out: dict[str, str] = {}
    for item in items:
        key, sep, why = item.partition("=")
        key = key.strip()
        if key not in LOSS_CHECKS:
            raise CLIError(f"--skip {item!r}: unknown check {key!r}; the checks are {', '.join(LOSS_CHECKS)}")
        if not sep or not why.strip():
            raise CLIError(f"--skip expects CHECK=REASON (say why the invariant does not apply), got {item!r}")
        out[key] = why.strip()
    return out


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("loss", metavar="LOSS",
                   help="a loss of agnostic_ml_torch.losses (e.g. TripletMarginLoss), or your own: "
                        "package.module:ClassName or path/to/file.py:ClassName")
    add_param_argument(p, "loss")
    p.add_argument("--examples", type=positive_int, default=50,
                   help="hypothesis batches to draw (default 50)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the batches, the weights (torch.manual_seed) and the permutations (default 0)")
    p.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                   help="dtype the batches are checked in (the dtype check compares float32 with float64 either way)")
    p.add_argument("--max-n", type=positive_int, default=10, metavar="N",
                   help="largest batch drawn (default 10)")
    p.add_argument("--dim", type=positive_int, default=None, metavar="D",
                   help="embedding size (default: the loss's embedding_size, else 4)")
    p.add_argument("--labels", choices=("auto", "ids", "class-index", "none"), default="auto",
                   help="what labels are: arbitrary class ids, indices of class weights (renaming permutes the "
                        "weights), or none; auto: class-index when the loss has num_classes")
    p.add_argument("--num-classes", type=positive_int, default=None, metavar="C",
                   help="classes of a class-index loss (default: the loss's num_classes)")
    p.add_argument("--empty-tuple", choices=("zero", "no-tuple", "either"), default="either",
                   help="what an empty indices tuple must give: 0 with a zero gradient, or (losses that weigh "
                        "samples by the tuple, PML's convert_to_weights) the value without a tuple; "
                        "either (default): one of the two")
    p.add_argument("--no-tuples", action="store_true", help="the loss takes no indices_tuple")
    p.add_argument("--self-supervised", action="store_true",
                   help="the loss is called loss(embeddings, ref_emb=...) without labels")
    p.add_argument("--skip", action="append", default=[], metavar="CHECK=REASON",
                   help="declare an invariant that does not apply, with the reason (repeatable); checks: "
                        "finite, permutation, relabel, empty_tuple, tuples, dtype")
    p.add_argument("--dtype-rtol", type=float, default=1e-3, metavar="R",
                   help="relative tolerance of the float32/float64 comparison (default 1e-3)")


def run(args: argparse.Namespace) -> int:
    try:
        import torch  # noqa: F401
    except ModuleNotFoundError:
        raise CLIError("check-loss runs the loss with torch (gradients), which is not installed: "
                       "pip install 'agnostic-ml[torch]'") from None
    try:
        from ..testing.loss_property_test import LossPropertyError, property_test_loss
    except ModuleNotFoundError as exc:
        if exc.name != "hypothesis":
            raise
        raise CLIError("check-loss draws its batches with hypothesis, which is not installed: "
                       "pip install 'agnostic-ml[testing]'") from None

    params = parse_params(args.param)
    factory, label, filled = _factory(args.loss, params)
    skip = _skips(args.skip)
    labels_kind = {"auto": None, "ids": "ids", "class-index": "class_index", "none": "none"}[args.labels]
    dim = args.dim
    if dim is None:
        dim = next((filled[k] for k in ("embedding_size", "descriptors_dim", "l") if k in filled), None)
    if filled:
        print("sizes not given, filled in: " + ", ".join(f"{k}={v}" for k, v in filled.items()))
    try:
        report = property_test_loss(
            factory, max_examples=args.examples, seed=args.seed, dim=dim, max_n=args.max_n, labels_kind=labels_kind,
            num_classes=args.num_classes, empty_tuple=args.empty_tuple.replace("-", "_"),
            tuples=not args.no_tuples, self_supervised=args.self_supervised, skip=skip, dtype=args.dtype,
            dtype_rtol=args.dtype_rtol, name=label,
        )
    except LossPropertyError as exc:
        return print_property_outcome(exc.report, exc)
    return print_property_outcome(report)


COMMAND = Command(
    name="check-loss",
    help="property-test a loss (ours or yours) with the agnostic_ml.testing kit",
    description=(
        "Build the loss once (torch.manual_seed(seed)), call deep copies of it on hypothesis batches "
        "(duplicated and identical rows, one class, all-distinct labels, N = 0 and 1, with and without an "
        "indices tuple) and check: finite value and gradient; unchanged when the batch is permuted with its "
        "labels and when the class ids are renamed; an empty indices tuple gives 0 with a zero gradient; "
        "pair and triplet tuples are accepted; float32 and float64 agree. "
        "Exit code 1 with the minimal failing batch if a check fails."
    ),
    epilog=(
        "Examples: agnostic-ml check-loss TripletMarginLoss --param margin=0.2; "
        "agnostic-ml check-loss ArcFaceLoss --empty-tuple no-tuple; "
        "agnostic-ml check-loss my_project.losses:MyLoss --examples 200; "
        "agnostic-ml check-loss path/to/my_loss.py:MyLoss --skip relabel='labels are ordinal'"
    ),
    add_arguments=add_arguments,
    run=run,
)
