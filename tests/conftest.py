"""The suite's fixtures: the backend matrix from the pytest plugin, hypothesis profiles.

The backend fixtures (``backend``, ``xp``, ``device``, ``dtype``, ``check``) come from
:mod:`agnostic_ml.testing.plugin`, the same plugin users get, so the list of backends
has one source of truth (:mod:`agnostic_ml.testing.backends`): numpy, torch (CPU),
array_api_strict (default flags, ``CPU_DEVICE``), array_api_strict_strictest (no
data-dependent shapes, no boolean indexing, no extensions, on the non-default
``Device("device1")``), torch_cuda and cupy (skipped visibly when no GPU is present).
``AGNOSTIC_ML_TEST_BACKENDS`` names the backends that must be present (``.ci/run`` sets
it): a missing one fails instead of skipping.

Shared helpers are in ``tests/helpers.py`` and the catalogue of configurations the
generic tests run in ``tests/catalogue/``; import them (``from helpers import ...``),
never from this file.

Hypothesis profiles (ours only; the plugin sets none): ``ci`` (derandomized, bounded
examples, no deadline) is loaded when ``CI`` is set or ``HYPOTHESIS_PROFILE=ci``;
``dev`` otherwise.
"""

from __future__ import annotations

import os
from typing import Any, Iterator

import pytest
from hypothesis import HealthCheck, settings

pytest_plugins = ["agnostic_ml.testing.plugin", "pytester"]

# Scripts that tests run as subprocesses (a PML-style training script, a resumable run):
# they train at import, so ``--doctest-modules`` must not import them.
collect_ignore_glob = ["torch_adapter/scripts/*.py"]

_QUIET = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large]
settings.register_profile("ci", derandomize=True, max_examples=25, deadline=None, print_blob=True, suppress_health_check=_QUIET)
settings.register_profile("dev", max_examples=25, deadline=None, suppress_health_check=_QUIET)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[Any]:
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
