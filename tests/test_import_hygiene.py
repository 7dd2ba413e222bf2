"""``import agnostic_ml`` must not import torch or cupy (checked in a fresh interpreter)."""

import subprocess
import sys

MODULES = [
    "agnostic_ml",
    "agnostic_ml.distances",
    "agnostic_ml.miners",
    "agnostic_ml.reducers",
    "agnostic_ml.regularizers",
    "agnostic_ml.tuples",
    "agnostic_ml.accuracy",
    "agnostic_ml.testing",
    "agnostic_ml.cli",
]


def test_core_never_imports_torch_or_cupy():
    code = (
        "import importlib, sys\n"
        f"for m in {MODULES!r}:\n"
        "    importlib.import_module(m)\n"
        "bad = [m for m in ('torch', 'cupy') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
