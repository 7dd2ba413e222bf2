"""``agnostic_ml.testing.backends``: the one list of backends the kit, the CLI and the test suite use."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from agnostic_ml.testing.backends import (
    BACKEND_NAMES,
    CPU_BACKEND_NAMES,
    GPU_BACKEND_NAMES,
    KIT_DEFAULT_BACKEND_NAMES,
    Backend,
    BackendUnavailable,
    available_backends,
    backend_status,
    load_backend,
    parse_backend_names,
)


def test_the_name_lists_agree():
    assert set(CPU_BACKEND_NAMES) | set(GPU_BACKEND_NAMES) == set(BACKEND_NAMES)
    assert not set(CPU_BACKEND_NAMES) & set(GPU_BACKEND_NAMES)
    assert set(KIT_DEFAULT_BACKEND_NAMES) == set(BACKEND_NAMES) - {"array_api_strict_strictest"}


def test_parse_backend_names():
    assert parse_backend_names("numpy, torch,numpy") == ("numpy", "torch")
    assert parse_backend_names(["cupy"]) == ("cupy",)
    with pytest.raises(ValueError, match=r"unknown backends 'tpu', 'mps'; known backends: numpy, torch"):
        parse_backend_names("numpy,tpu,mps")
    with pytest.raises(ValueError, match="no backend named"):
        parse_backend_names(" , ")


@pytest.mark.parametrize("name", CPU_BACKEND_NAMES)
def test_cpu_backends_build_arrays_on_their_device(name):
    status = backend_status([name])[name]
    if isinstance(status, BackendUnavailable):
        pytest.skip(status.reason)
    b = status
    assert isinstance(b, Backend) and b.name == name and not b.gpu
    with b.context():
        x = b.asarray([[1.0, 2.0]], dtype=b.xp.float32)
        assert x.dtype == b.xp.float32 and str(b.xp.asarray(0, device=b.device).device) == str(b.device)
        y = b.xp.sum(x, axis=1)
        np.testing.assert_array_equal(b.to_numpy(y), [3.0])


def test_the_strictest_mode_forbids_data_dependent_shapes():
    pytest.importorskip("array_api_strict")
    b = load_backend("array_api_strict_strictest")
    x = b.asarray([0.0, 1.0])
    with b.context():
        with pytest.raises(RuntimeError, match="data-dependent shapes"):
            b.xp.nonzero(x)
    assert b.xp.nonzero(x)[0].shape == (1,)  # outside the context the default flags apply again


def test_unavailable_backends_say_why():
    for name, status in backend_status(GPU_BACKEND_NAMES).items():
        if isinstance(status, BackendUnavailable):
            assert status.name == name and status.reason and str(status).startswith(f"backend {name} unavailable: ")
            with pytest.raises(BackendUnavailable):
                load_backend(name)
    assert [b.name for b in available_backends(["numpy"])] == ["numpy"]
    with pytest.raises(ValueError, match="unknown backend 'nope'"):
        load_backend("nope")


def test_listing_names_imports_no_array_library():
    code = (
        "import sys\n"
        "from agnostic_ml.testing.backends import BACKEND_NAMES, parse_backend_names\n"
        "parse_backend_names(BACKEND_NAMES)\n"
        "bad = [m for m in ('torch', 'cupy', 'array_api_strict', 'hypothesis') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    repo = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(repo), os.environ.get("PYTHONPATH", "")]))
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0, res.stderr
