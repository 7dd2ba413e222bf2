"""The array backends the tests run on, and how to build each one.

This is the one list of backends: our own test suite, the pytest plugin
(:mod:`agnostic_ml.testing.plugin`) and the property-testing kit read it from here.

========================== ====================== =================================== =====
name                       namespace              device                              GPU
========================== ====================== =================================== =====
numpy                      NumPy                  ``"cpu"``
torch                      torch                  ``torch.device("cpu")``
array_api_strict           array-api-strict       ``Device("CPU_DEVICE")``
array_api_strict_strictest array-api-strict       ``Device("device1")``, no boolean
                                                  indexing, no data-dependent shapes,
                                                  no extensions (inside ``context()``)
torch_cuda                 torch                  ``torch.device("cuda")``            yes
cupy                       CuPy                   ``cupy.cuda.Device(0)``             yes
========================== ====================== =================================== =====

Every namespace is array-api-compat's wrapper (``array_namespace(mod.empty(0))``), so
tests see the standard's functions even where the bare library differs. Nothing here
imports torch, CuPy or array-api-strict until a backend that needs it is built.

Examples
--------
>>> from agnostic_ml.testing.backends import BACKEND_NAMES, make_backend
>>> "numpy" in BACKEND_NAMES
True
>>> b = make_backend("numpy")
>>> x = b.asarray([[1.0, 2.0]], b.xp.float32)
>>> b.to_numpy(x).tolist(), str(x.dtype)
([[1.0, 2.0]], 'float32')
"""

from __future__ import annotations

import contextlib
import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

__all__ = [
    "BACKEND_NAMES",
    "CPU_BACKENDS",
    "GPU_BACKENDS",
    "Backend",
    "BackendUnavailable",
    "available_backends",
    "make_backend",
]

#: Every backend, CPU ones first (the order of the tests' parameters).
BACKEND_NAMES: tuple[str, ...] = (
    "numpy",
    "torch",
    "array_api_strict",
    "array_api_strict_strictest",
    "torch_cuda",
    "cupy",
)
#: The backends that need no GPU.
CPU_BACKENDS: tuple[str, ...] = ("numpy", "torch", "array_api_strict", "array_api_strict_strictest")
#: The backends that need a CUDA device.
GPU_BACKENDS: tuple[str, ...] = ("torch_cuda", "cupy")


class BackendUnavailable(Exception):
    """A backend cannot be built here: its library is not installed or it has no device.

    Attributes ``name`` (the backend) and ``reason`` (why, for a skip message).
    """

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"backend {name!r} unavailable: {reason}")
        self.name = name
        self.reason = reason


@dataclass
class Backend:
    """How to build and inspect arrays of one backend.

    Attributes
    ----------
    name : str
        One of :data:`BACKEND_NAMES`.
    module : str
        The library's import name (``"numpy"``, ``"torch"``, ``"cupy"``, ``"array_api_strict"``).
    xp : namespace
        array-api-compat's namespace for that library.
    device : device object
        The device test inputs are created on.
    context : callable
        Returns a context manager to run the test in (array-api-strict's flags for
        ``array_api_strict_strictest``; a no-op otherwise).
    gpu : bool
        Whether the backend needs a GPU.
    """

    name: str
    module: str
    xp: Any = None
    device: Any = None
    context: Callable[[], Any] = field(default=contextlib.nullcontext)
    gpu: bool = False

    def asarray(self, x: Any, dtype: Any = None) -> Any:
        """Host data (a list or NumPy array) -> an array of this backend on its device."""
        return self.xp.asarray(np.asarray(x), dtype=dtype, device=self.device)

    def to_numpy(self, x: Any) -> np.ndarray:
        """An array of this backend -> a NumPy array (a copy where the array is not on the host)."""
        from .._array_api import to_numpy

        return to_numpy(x)

    def __str__(self) -> str:
        return self.name


def _import(name: str, module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise BackendUnavailable(name, f"{module} not importable ({exc})") from None


def _numpy(name: str) -> Backend:
    from array_api_compat import array_namespace

    return Backend(name, "numpy", array_namespace(np.empty(0)), "cpu")


def _torch(name: str) -> Backend:
    from array_api_compat import array_namespace

    torch = _import(name, "torch")
    gpu = name == "torch_cuda"
    if gpu and not torch.cuda.is_available():
        raise BackendUnavailable(name, "torch.cuda.is_available() is False (no GPU)")
    dev = torch.device("cuda" if gpu else "cpu")
    return Backend(name, "torch", array_namespace(torch.empty(0)), dev, gpu=gpu)


def _cupy(name: str) -> Backend:
    from array_api_compat import array_namespace

    cupy = _import(name, "cupy")
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDA runtime errors (no driver, no device) have many types
        raise BackendUnavailable(name, f"no CUDA device ({type(exc).__name__}: {exc})") from None
    if count < 1:
        raise BackendUnavailable(name, "no CUDA device visible")
    return Backend(name, "cupy", array_namespace(cupy.empty(0)), cupy.cuda.Device(0), gpu=True)


def _strict(name: str) -> Backend:
    from array_api_compat import array_namespace

    strict = _import(name, "array_api_strict")
    xp = array_namespace(strict.empty(0))
    if name == "array_api_strict":
        return Backend(name, "array_api_strict", xp, strict.Device("CPU_DEVICE"))

    def strictest() -> Any:
        return strict.ArrayAPIStrictFlags(boolean_indexing=False, data_dependent_shapes=False, enabled_extensions=())

    return Backend(name, "array_api_strict", xp, strict.Device("device1"), context=strictest)


_BUILDERS: dict[str, Callable[[str], Backend]] = {
    "numpy": _numpy,
    "torch": _torch,
    "torch_cuda": _torch,
    "cupy": _cupy,
    "array_api_strict": _strict,
    "array_api_strict_strictest": _strict,
}


def make_backend(name: str) -> Backend:
    """Build the backend ``name``.

    Raises
    ------
    ValueError
        ``name`` is not one of :data:`BACKEND_NAMES`.
    BackendUnavailable
        Its library is not installed, or it needs a GPU that is not there.
    """
    try:
        build = _BUILDERS[name]
    except (KeyError, TypeError):
        raise ValueError(f"name must be one of {list(BACKEND_NAMES)}, got {name!r}") from None
    return build(name)


def available_backends() -> list[str]:
    """The names in :data:`BACKEND_NAMES` that can be built here, in that order."""
    out = []
    for name in BACKEND_NAMES:
        try:
            make_backend(name)
        except BackendUnavailable:
            continue
        out.append(name)
    return out
