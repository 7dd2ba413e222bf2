"""The backends the kit (and our own test suite) runs on: one list, one way to build each.

This module is the single source of truth for "which array backends exist for testing":
the property-testing kit (:func:`agnostic_ml.testing.property_test_miner`), the
``agnostic-ml check-miner --backend`` option and the pytest plugin's backend fixture all
take their names, namespaces and devices from here.

======================================  ==========================================================
name                                    namespace and device
======================================  ==========================================================
``numpy``                               compat-wrapped NumPy, ``"cpu"``
``torch``                               compat-wrapped torch, ``torch.device("cpu")``
``array_api_strict``                    array-api-strict (default flags), ``Device("CPU_DEVICE")``
``array_api_strict_strictest``          array-api-strict on the non-default ``Device("device1")``,
                                        inside :meth:`Backend.context`: no data-dependent shapes,
                                        no boolean indexing, no extensions
``torch_cuda``                          compat-wrapped torch, ``torch.device("cuda")`` (needs a GPU)
``cupy``                                compat-wrapped CuPy, ``cupy.cuda.Device(0)`` (needs a GPU)
======================================  ==========================================================

Nothing here imports torch, CuPy or array-api-strict until a backend of theirs is
loaded, so listing names is free.

Examples
--------
>>> from agnostic_ml.testing.backends import BACKEND_NAMES, load_backend
>>> "numpy" in BACKEND_NAMES
True
>>> b = load_backend("numpy")
>>> x = b.asarray([[1.0, 2.0]])
>>> b.name, b.xp.__name__, tuple(x.shape), b.to_numpy(x).tolist()
('numpy', 'array_api_compat.numpy', (1, 2), [[1.0, 2.0]])
>>> load_backend("no_such_backend")
Traceback (most recent call last):
...
ValueError: unknown backend 'no_such_backend'; known backends: numpy, torch, array_api_strict, array_api_strict_strictest, torch_cuda, cupy
"""

from __future__ import annotations

import contextlib
import importlib
from dataclasses import dataclass, field
from typing import Any, Callable, ContextManager, Iterable, Sequence

import numpy as np

__all__ = [
    "BACKEND_NAMES",
    "CPU_BACKEND_NAMES",
    "GPU_BACKEND_NAMES",
    "KIT_DEFAULT_BACKEND_NAMES",
    "Backend",
    "BackendUnavailable",
    "available_backends",
    "backend_status",
    "load_backend",
    "parse_backend_names",
]

#: Every backend the kit knows, in the order the tests and reports list them.
BACKEND_NAMES: tuple[str, ...] = (
    "numpy",
    "torch",
    "array_api_strict",
    "array_api_strict_strictest",
    "torch_cuda",
    "cupy",
)
#: Backends that need no GPU.
CPU_BACKEND_NAMES: tuple[str, ...] = ("numpy", "torch", "array_api_strict", "array_api_strict_strictest")
#: Backends that need a CUDA GPU.
GPU_BACKEND_NAMES: tuple[str, ...] = ("torch_cuda", "cupy")
#: What :func:`~agnostic_ml.testing.property_test_miner` and ``agnostic-ml check-miner``
#: run a miner on when no backend is named: every library in its default mode. The
#: strictest array-api-strict mode is left out because it also forbids what the standard
#: makes optional (data-dependent shapes such as ``xp.nonzero``, boolean indexing), which
#: most miners written against the standard use; name it to opt in (our own suite does).
KIT_DEFAULT_BACKEND_NAMES: tuple[str, ...] = ("numpy", "torch", "array_api_strict", "torch_cuda", "cupy")


class BackendUnavailable(RuntimeError):
    """A known backend cannot be used here; ``reason`` says why (not installed, no GPU, ...)."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"backend {name} unavailable: {reason}")
        self.name = name
        self.reason = reason


@dataclass(frozen=True)
class Backend:
    """One array backend: its compat-wrapped namespace, the device to create arrays on,
    and the context (array-api-strict flags) that must be active while code runs on it.

    Attributes
    ----------
    name : str
        One of :data:`BACKEND_NAMES`.
    module : str
        The array library's import name (``"numpy"``, ``"torch"``, ``"array_api_strict"``, ``"cupy"``).
    xp : namespace
        The compat-wrapped namespace (``array_api_compat.array_namespace`` of an array).
    device : object
        The device test inputs are created on.
    context : callable
        ``context()`` returns a context manager to run code in (flags of the strictest
        array-api-strict mode; a no-op elsewhere).
    gpu : bool
        Whether the backend runs on a GPU.
    """

    name: str
    module: str
    xp: Any = None
    device: Any = None
    context: Callable[[], ContextManager[Any]] = field(default=contextlib.nullcontext, compare=False)
    gpu: bool = False

    def asarray(self, x: Any, dtype: Any = None) -> Any:
        """Host data -> this backend's array on its device (``dtype`` of this namespace, or inferred)."""
        return self.xp.asarray(np.asarray(x), dtype=dtype, device=self.device)

    def to_numpy(self, x: Any) -> np.ndarray:
        """An array of this backend -> a NumPy array on the host."""
        from .._array_api import to_numpy

        return np.asarray(to_numpy(x))

    def __str__(self) -> str:
        return self.name


def parse_backend_names(names: str | Iterable[str]) -> tuple[str, ...]:
    """Validate backend names (a comma-separated string or an iterable); keep their order, drop repeats.

    Raises ``ValueError`` naming the unknown ones and listing the known ones.

    >>> parse_backend_names("numpy, torch,numpy")
    ('numpy', 'torch')
    """
    if isinstance(names, str):
        items = [n.strip() for n in names.split(",")]
    else:
        items = [str(n).strip() for n in names]
    items = [n for n in items if n]
    unknown = [n for n in items if n not in BACKEND_NAMES]
    if unknown:
        s = "s" if len(unknown) > 1 else ""
        raise ValueError(
            f"unknown backend{s} {', '.join(repr(n) for n in unknown)}; known backends: {', '.join(BACKEND_NAMES)}"
        )
    if not items:
        raise ValueError(f"no backend named; known backends: {', '.join(BACKEND_NAMES)}")
    return tuple(dict.fromkeys(items))


def _import(name: str, module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise BackendUnavailable(name, f"{module} is not importable ({exc})") from None


def _namespace(array: Any) -> Any:
    from array_api_compat import array_namespace

    return array_namespace(array)


def load_backend(name: str) -> Backend:
    """Build backend ``name``; raise :class:`BackendUnavailable` (with the reason) when it
    cannot run here, ``ValueError`` when the name is unknown."""
    if name not in BACKEND_NAMES:
        raise ValueError(f"unknown backend {name!r}; known backends: {', '.join(BACKEND_NAMES)}")
    if name == "numpy":
        return Backend(name, "numpy", _namespace(np.empty(0)), "cpu")
    if name in ("torch", "torch_cuda"):
        torch = _import(name, "torch")
        if name == "torch_cuda" and not torch.cuda.is_available():
            raise BackendUnavailable(name, "torch.cuda.is_available() is False (no GPU)")
        dev = torch.device("cuda" if name == "torch_cuda" else "cpu")
        return Backend(name, "torch", _namespace(torch.empty(0)), dev, gpu=name == "torch_cuda")
    if name == "cupy":
        cupy = _import(name, "cupy")
        try:
            count = cupy.cuda.runtime.getDeviceCount()
        except Exception as exc:  # CUDARuntimeError when no driver or GPU is present
            raise BackendUnavailable(name, f"no usable CUDA GPU ({type(exc).__name__}: {exc})") from None
        if count < 1:
            raise BackendUnavailable(name, "CuPy sees no CUDA device")
        return Backend(name, "cupy", _namespace(cupy.empty(0)), cupy.cuda.Device(0), gpu=True)
    strict = _import(name, "array_api_strict")
    xp = _namespace(strict.empty(0))
    if name == "array_api_strict":
        return Backend(name, "array_api_strict", xp, strict.Device("CPU_DEVICE"))

    def strictest() -> ContextManager[Any]:
        return strict.ArrayAPIStrictFlags(boolean_indexing=False, data_dependent_shapes=False, enabled_extensions=())

    return Backend(name, "array_api_strict", xp, strict.Device("device1"), context=strictest)


def backend_status(names: Sequence[str] | None = None) -> dict[str, Backend | BackendUnavailable]:
    """``name -> Backend`` for the usable backends and ``name -> BackendUnavailable`` for the
    others, for ``names`` (default: every name of :data:`BACKEND_NAMES`), in order.

    >>> status = backend_status(["numpy"])
    >>> type(status["numpy"]).__name__
    'Backend'
    """
    chosen = BACKEND_NAMES if names is None else parse_backend_names(names)
    out: dict[str, Backend | BackendUnavailable] = {}
    for name in chosen:
        try:
            out[name] = load_backend(name)
        except BackendUnavailable as exc:
            out[name] = exc
    return out


def available_backends(names: Sequence[str] | None = None) -> list[Backend]:
    """The usable backends among ``names`` (default: all of :data:`BACKEND_NAMES`), in order.

    >>> [b.name for b in available_backends(["numpy"])]
    ['numpy']
    """
    return [b for b in backend_status(names).values() if isinstance(b, Backend)]
