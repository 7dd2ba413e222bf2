"""Fixtures of the PML comparisons (helpers: ``pml_helpers.py``).

Every test module here starts with ``pytest.importorskip("torch")`` and PML's, so the
folder skips visibly where they are not installed.
"""

from __future__ import annotations

import pytest

from helpers import backend_or_skip

#: (our backend, dtype) pairs the miner comparisons run on: the semantics do not depend on
#: the backend (tests/core checks every backend), and both libraries see the same matrix.
COMBO_PARAMS = [("numpy", "float64"), ("numpy", "float32"), ("torch", "float32")]


@pytest.fixture(params=["numpy", "torch"])
def ours_backend(request):
    """The backend our side runs on (PML's always runs on torch CPU)."""
    return backend_or_skip(request.param)


@pytest.fixture(params=COMBO_PARAMS, ids=lambda c: f"{c[0]}-{c[1]}")
def combo(request):
    """(our backend, dtype name): the combinations the miner comparisons run on."""
    return backend_or_skip(request.param[0]), request.param[1]
