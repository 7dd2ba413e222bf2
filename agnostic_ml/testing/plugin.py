"""pytest plugin: run a test once per installed array backend.

Enable it with ``pytest -p agnostic_ml.testing.plugin``, with
``pytest_plugins = ["agnostic_ml.testing.plugin"]`` in your top-level ``conftest.py``,
or do nothing: installing agnostic-ml registers it as a ``pytest11`` entry point under
the same name (``-p no:agnostic_ml.testing.plugin`` turns it off). A test that asks for
one of these fixtures runs once per backend of :data:`~agnostic_ml.testing.backends.BACKEND_NAMES`
(numpy, torch on CPU, array-api-strict with default flags and in its strictest mode on
``Device("device1")``, torch on CUDA, CuPy)::

    def test_my_miner(xp, device, dtype, check):
        emb = xp.asarray([[0.0, 1.0], [1.0, 0.0], [0.0, 0.9]], dtype=dtype, device=device)
        a, p, n = MyMiner()(emb, [0, 1, 0])
        check(a, dtype=xp.int64)   # namespace, device and dtype of the embeddings' backend

Fixtures
--------
backend : :class:`~agnostic_ml.testing.backends.Backend`
    Parametrised over every backend, ids ``numpy``, ``torch``, ... A backend that is not
    installed (or has no GPU) is *skipped* with the reason, so ``pytest -rs`` shows it.
    The test body runs inside ``backend.context()`` (the strictest flags).
xp, device
    ``backend.xp`` (array-api-compat's namespace) and ``backend.device``.
dtype
    ``xp.float32`` and ``xp.float64`` (parametrised, ids ``float32`` / ``float64``).
check
    :func:`assert_array` bound to the test's backend: ``check(x, dtype=..., shape=...)``.

Environment
-----------
``AGNOSTIC_ML_TEST_BACKENDS`` (comma-separated backend names) lists the backends that
*must* be available: a named backend that cannot be built fails its tests instead of
skipping them, so that CI cannot pass because an install step went missing. An unknown
name is a usage error.

The plugin sets no hypothesis profile and no global state: it only adds fixtures.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Iterator

import pytest

from .backends import BACKEND_NAMES, Backend, BackendUnavailable, load_backend

__all__ = ["ENV_VAR", "assert_array", "backend_or_skip", "required_backends"]

#: The environment variable naming the backends that must be available.
ENV_VAR = "AGNOSTIC_ML_TEST_BACKENDS"


def required_backends() -> frozenset[str]:
    """The backends named in ``AGNOSTIC_ML_TEST_BACKENDS`` (empty when unset).

    Raises ``pytest.UsageError`` for a name that is not a backend.
    """
    names = frozenset(b.strip() for b in os.environ.get(ENV_VAR, "").split(",") if b.strip())
    unknown = sorted(names - set(BACKEND_NAMES))
    if unknown:
        raise pytest.UsageError(f"{ENV_VAR} names unknown backends {unknown}; known: {list(BACKEND_NAMES)}")
    return names


def backend_or_skip(name: str) -> Backend:
    """Build the backend ``name``, or skip the running test with the reason it is unavailable.

    When ``name`` is in ``AGNOSTIC_ML_TEST_BACKENDS`` the test fails instead of skipping.
    """
    try:
        return load_backend(name)
    except BackendUnavailable as exc:
        if name in required_backends():
            pytest.fail(f"backend {name!r} is required by {ENV_VAR} but unavailable: {exc.reason}", pytrace=False)
        pytest.skip(f"backend {name} unavailable: {exc.reason}")


def assert_array(x: Any, backend: Backend, *, dtype: Any = None, shape: tuple | None = None) -> None:
    """Assert that ``x`` is an array of ``backend``'s namespace on its device (and of ``dtype``, ``shape``)."""
    from array_api_compat import array_namespace, device

    assert array_namespace(x) is backend.xp, f"namespace {array_namespace(x)} != {backend.xp}"
    assert str(device(x)) == str(backend.device), f"device {device(x)} != {backend.device}"
    if dtype is not None:
        assert x.dtype == dtype, f"dtype {x.dtype} != {dtype}"
    if shape is not None:
        assert tuple(x.shape) == tuple(shape), f"shape {tuple(x.shape)} != {shape}"


def pytest_configure(config: pytest.Config) -> None:
    required_backends()  # a misspelt backend is a usage error before any test runs


@pytest.fixture(params=BACKEND_NAMES)
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    """Each backend in turn (skipped when unavailable, failed when required and unavailable)."""
    b = backend_or_skip(request.param)
    with b.context():
        yield b


@pytest.fixture
def xp(backend: Backend) -> Any:
    """The array namespace of the test's backend."""
    return backend.xp


@pytest.fixture
def device(backend: Backend) -> Any:
    """The device the test's inputs are created on."""
    return backend.device


@pytest.fixture(params=["float32", "float64"])
def dtype(request: pytest.FixtureRequest, xp: Any) -> Any:
    """float32, then float64, of the test's namespace."""
    return getattr(xp, request.param)


@pytest.fixture
def check(backend: Backend) -> Callable[..., None]:
    """``check(x, dtype=None, shape=None)``: :func:`assert_array` on the test's backend."""

    def check(x: Any, *, dtype: Any = None, shape: tuple | None = None) -> None:
        assert_array(x, backend, dtype=dtype, shape=shape)

    return check
