"""The backend test matrix shared by every test.

Fixtures
--------
backend : Backend
    One of numpy, torch (CPU), array_api_strict (default flags, CPU_DEVICE),
    array_api_strict_strictest (no data-dependent shapes, no boolean indexing, no
    extensions, on the non-default ``Device("device1")``), torch_cuda and cupy (skipped
    visibly when no GPU is present).
xp, device : the compat-wrapped namespace and the device to create inputs on.
dtype : float32 / float64 of that namespace (``float_dtype`` parametrises it).

``AGNOSTIC_ML_TEST_BACKENDS`` (comma-separated backend names) lists backends that *must*
be available: a named backend that cannot be imported fails the run instead of skipping,
so that CI cannot go green because an install step silently went missing.

Hypothesis profiles: ``ci`` (derandomized, bounded examples, no deadline) is loaded when
``CI`` is set or ``HYPOTHESIS_PROFILE=ci``; ``dev`` otherwise.
"""

from __future__ import annotations

import contextlib
import importlib
import os
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# The per-family loss catalogues (torch_adapter/catalogue_*.py) import loss_catalogue, which
# imports them back; they hold no tests or doctests, so --doctest-modules must not import one
# before loss_catalogue (the cycle would fail). The test modules import them in order.
collect_ignore_glob = ["torch_adapter/catalogue_*.py"]

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=25,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)
settings.register_profile(
    "dev",
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


@dataclass
class Backend:
    """How to build and inspect arrays of one backend."""

    name: str
    module: str
    xp: Any = None
    device: Any = None
    context: Callable[[], Any] = field(default=contextlib.nullcontext)
    gpu: bool = False

    def asarray(self, x: Any, dtype: Any = None) -> Any:
        """Host data -> this backend's array on its test device."""
        return self.xp.asarray(np.asarray(x), dtype=dtype, device=self.device)

    def to_numpy(self, x: Any) -> np.ndarray:
        from agnostic_ml._array_api import to_numpy

        return to_numpy(x)


BACKEND_NAMES = ["numpy", "torch", "array_api_strict", "array_api_strict_strictest", "torch_cuda", "cupy"]
REQUIRED = {b.strip() for b in os.environ.get("AGNOSTIC_ML_TEST_BACKENDS", "").split(",") if b.strip()}
_unknown = REQUIRED - set(BACKEND_NAMES)
if _unknown:
    raise pytest.UsageError(f"AGNOSTIC_ML_TEST_BACKENDS names unknown backends {sorted(_unknown)}; known: {BACKEND_NAMES}")


def _unavailable(name: str, reason: str) -> None:
    if name in REQUIRED:
        pytest.fail(f"backend {name!r} is required by AGNOSTIC_ML_TEST_BACKENDS but unavailable: {reason}")
    pytest.skip(f"backend {name} unavailable: {reason}")


def make_backend(name: str) -> Backend:
    """Build a Backend or skip (fail, if required) when it is unavailable."""
    from array_api_compat import array_namespace

    if name == "numpy":
        return Backend(name, "numpy", array_namespace(np.empty(0)), "cpu")
    if name in ("torch", "torch_cuda"):
        try:
            torch = importlib.import_module("torch")
        except ImportError as exc:
            _unavailable(name, f"torch not importable ({exc})")
        if name == "torch_cuda" and not torch.cuda.is_available():
            _unavailable(name, "torch.cuda.is_available() is False (no GPU)")
        dev = torch.device("cuda" if name == "torch_cuda" else "cpu")
        return Backend(name, "torch", array_namespace(torch.empty(0)), dev, gpu=name == "torch_cuda")
    if name == "cupy":
        try:
            cupy = importlib.import_module("cupy")
            ok = cupy.cuda.runtime.getDeviceCount() > 0
        except Exception as exc:  # ImportError or CUDA runtime errors
            _unavailable(name, f"cupy/GPU not available ({type(exc).__name__}: {exc})")
        if not ok:
            _unavailable(name, "no CUDA device visible")
        return Backend(name, "cupy", array_namespace(cupy.empty(0)), cupy.cuda.Device(0), gpu=True)
    if name.startswith("array_api_strict"):
        try:
            strict = importlib.import_module("array_api_strict")
        except ImportError as exc:
            _unavailable(name, f"array_api_strict not importable ({exc})")
        xp = array_namespace(strict.empty(0))
        if name == "array_api_strict":
            return Backend(name, "array_api_strict", xp, strict.Device("CPU_DEVICE"))

        def strictest() -> Any:
            return strict.ArrayAPIStrictFlags(
                boolean_indexing=False, data_dependent_shapes=False, enabled_extensions=()
            )

        return Backend(name, "array_api_strict", xp, strict.Device("device1"), context=strictest)
    raise ValueError(name)


@pytest.fixture(params=BACKEND_NAMES)
def backend(request: pytest.FixtureRequest) -> Any:
    b = make_backend(request.param)
    with b.context():
        yield b


CPU_BACKENDS = ["numpy", "torch", "array_api_strict", "array_api_strict_strictest"]


@pytest.fixture(params=["numpy", "torch", "array_api_strict"])
def backend_dds(request: pytest.FixtureRequest) -> Any:
    """Backends with data-dependent shapes (for tests of nonzero-based outputs), plus GPUs."""
    b = make_backend(request.param)
    with b.context():
        yield b


@pytest.fixture
def xp(backend: Backend) -> Any:
    return backend.xp


@pytest.fixture
def device(backend: Backend) -> Any:
    return backend.device


@pytest.fixture(params=["float32", "float64"])
def dtype(request: pytest.FixtureRequest, xp: Any) -> Any:
    return getattr(xp, request.param)


def tol(dtype: Any, xp: Any) -> dict[str, float]:
    """Tolerances by dtype."""
    if dtype == xp.float64:
        return {"rtol": 1e-9, "atol": 1e-9}
    return {"rtol": 1e-4, "atol": 1e-5}


def assert_array(x: Any, backend: Backend, *, dtype: Any = None, shape: tuple | None = None) -> None:
    """Check namespace, device, dtype and shape of a result."""
    from array_api_compat import array_namespace, device

    assert array_namespace(x) is backend.xp, f"namespace {array_namespace(x)} != {backend.xp}"
    assert str(device(x)) == str(backend.device), f"device {device(x)} != {backend.device}"
    if dtype is not None:
        assert x.dtype == dtype, f"dtype {x.dtype} != {dtype}"
    if shape is not None:
        assert tuple(x.shape) == tuple(shape), f"shape {tuple(x.shape)} != {shape}"


@pytest.fixture
def check() -> Callable[..., None]:
    return assert_array


@pytest.fixture(scope="module")
def one_torch_thread() -> Any:
    """Run a module's torch code single-threaded, then restore the setting.

    Tiny tensors gain nothing from torch's intra-op threads, whose spin-waits made the
    miner tests ~3x slower on a busy 2-core machine. Use with
    ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``.
    """
    try:
        import torch
    except ImportError:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
