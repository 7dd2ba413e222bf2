"""What the commands build from text: miners (built-in names or the user's own classes),
distances, and ``--param KEY=VALUE`` values."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import os
import sys
from pathlib import Path
from typing import Any, Sequence

from ._errors import CLIError

__all__ = [
    "DISTANCE_ALIASES",
    "available_miners",
    "find_miner",
    "init_parameters",
    "load_object",
    "make_distance",
    "make_miner",
    "miner_class",
    "parse_params",
]

# Short names for ``--param distance=...`` (a call such as ``lp(p=1, power=2)`` also works).
DISTANCE_ALIASES = {
    "cosine": "CosineSimilarity",
    "lp": "LpDistance",
    "euclidean": "LpDistance",
    "dot": "DotProductSimilarity",
    "snr": "SNRDistance",
}


# ----------------------------------------------------------------------------------------
# built-in miners
# ----------------------------------------------------------------------------------------


def available_miners() -> dict[str, type]:
    """Tuple miners exported by ``agnostic_ml.miners`` (name -> class).

    The bases users subclass (``BaseMiner`` and PML 0.9's ``BasePostGradientMiner``) and the
    0.9-era pre-gradient miners (which return a subset of the batch, not index tuples) are left out.
    """
    from .. import miners

    names = getattr(miners, "__all__", None) or [n for n in dir(miners) if not n.startswith("_")]
    bases = (miners.BaseMiner, miners.BasePostGradientMiner)
    found = {}
    for name in names:
        obj = getattr(miners, name, None)
        if (
            isinstance(obj, type)
            and issubclass(obj, miners.BaseMiner)
            and obj not in bases
            and not issubclass(obj, miners.BasePreGradientMiner)
        ):
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
    raise CLIError(
        f"unknown miner {name!r}; available miners: {listing} "
        "(or your own: package.module:ClassName or path/to/file.py:ClassName)"
    )


# ----------------------------------------------------------------------------------------
# the user's own classes: package.module:Name or path/to/file.py:Name
# ----------------------------------------------------------------------------------------


def _is_spec(text: str) -> bool:
    """Whether ``text`` names an object in a module or file (``left:Name``)."""
    left, sep, right = text.rpartition(":")
    return bool(sep and left and right)


def load_object(spec: str, what: str = "miner") -> Any:
    """The object ``Name`` (dotted names allowed) of ``package.module:Name`` or ``path/to/file.py:Name``.

    Like ``python file.py`` and ``python -m``, a file's folder (or, for a module, the
    current directory) is put first on ``sys.path`` so that its own imports work. Every
    failure is a one-line :class:`CLIError` (exit code 2).
    """
    left, sep, attr = spec.rpartition(":")
    if not (sep and left and attr):
        raise CLIError(f"{what} {spec!r}: expected package.module:ClassName or path/to/file.py:ClassName")
    if not all(part.isidentifier() for part in attr.split(".")):
        raise CLIError(f"{what} {spec!r}: {attr!r} is not a Python name")
    is_file = left.endswith(".py") or "/" in left or os.sep in left
    if is_file:
        module = _import_file(left, what)
        where = left
    else:
        module = _import_module(left, what)
        where = f"module {left}"
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            names = sorted(n for n, v in vars(module).items() if isinstance(v, type) and not n.startswith("_")
                           and getattr(v, "__module__", None) == module.__name__)
            listing = f"; its classes: {', '.join(names)}" if names else ""
            raise CLIError(f"{what} {spec!r}: {where} has no {attr!r}{listing}") from None
    return obj


def _import_file(path_text: str, what: str) -> Any:
    path = Path(path_text).expanduser()
    if path.is_dir():
        raise CLIError(f"{what}: {path_text!r} is a directory, not a Python file")
    if not path.is_file():
        raise CLIError(f"{what}: no such file {path_text!r}")
    path = path.resolve()
    name = f"_agnostic_ml_user_{abs(hash(str(path))):x}_{path.stem}"
    if name in sys.modules:
        return sys.modules[name]
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise CLIError(f"{what}: cannot load {path_text!r} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # before exec: dataclasses and pickling look the module up
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:
        del sys.modules[name]
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        raise CLIError(f"{what}: importing {path_text!r} failed: {_exc_line(exc)}") from None
    return module


def _import_module(name: str, what: str) -> Any:
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
            raise CLIError(f"{what}: no module named {exc.name!r} (is it installed, or in the current directory?)") from None
        raise CLIError(f"{what}: importing module {name!r} failed: {_exc_line(exc)}") from None
    except Exception as exc:  # noqa: BLE001 - the user's module raised while importing
        raise CLIError(f"{what}: importing module {name!r} failed: {_exc_line(exc)}") from None


def _exc_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def miner_class(name: str) -> Any:
    """A built-in miner name (forgiving spelling) or ``module:Class`` / ``file.py:Class``."""
    if _is_spec(name):
        obj = load_object(name, "miner")
        if not callable(obj):
            raise CLIError(f"miner {name!r} is a {type(obj).__name__}, not a class or a factory")
        return obj
    if name.endswith(".py"):
        raise CLIError(f"miner {name!r}: name the class too, e.g. {name}:MyMiner")
    return find_miner(name)


# ----------------------------------------------------------------------------------------
# parameters and distances
# ----------------------------------------------------------------------------------------


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
    from .. import distances

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


def init_parameters(cls: Any) -> list[str] | None:
    """Keyword parameters of ``cls.__init__`` (following ``**kwargs`` up the MRO), or of a
    factory function; None if unknown."""
    if not isinstance(cls, type):
        try:
            sig = inspect.signature(cls)
        except (TypeError, ValueError):
            return None
        params = list(sig.parameters.values())
        if any(p.kind is p.VAR_KEYWORD for p in params):
            return None
        return [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
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


def check_params(cls: Any, params: dict[str, Any]) -> list[str] | None:
    """Raise CLIError for parameters ``cls`` does not take; return its parameter names (None if unknown)."""
    accepted = init_parameters(cls)
    if accepted is not None:
        unknown = sorted(set(params) - set(accepted))
        if unknown:
            label = getattr(cls, "__name__", repr(cls))
            raise CLIError(
                f"{label} has no parameter {', '.join(unknown)}; "
                f"its parameters are: {', '.join(accepted) or '(none)'}"
            )
    return accepted


def make_miner(name: str, params: dict[str, Any], *, seed: int | None = None) -> Any:
    """Instantiate miner ``name`` (built-in, or ``module:Class`` / ``file.py:Class``) with
    ``params``; unknown or bad parameters raise CLIError.

    A ``seed`` is passed as ``rng=`` to miners that take one (unless ``rng`` is in params).
    """
    cls = miner_class(name)
    accepted = check_params(cls, params)
    kwargs = dict(params)
    if seed is not None and "rng" not in kwargs and accepted is not None and "rng" in accepted:
        kwargs["rng"] = seed
    label = getattr(cls, "__name__", name)
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise CLIError(f"bad parameter for {label}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - a user's class may raise anything while building
        raise CLIError(f"building {label}({', '.join(kwargs)}) failed: {type(exc).__name__}: {exc}") from None
