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
    "agnostic_ml.testing.backends",
    # autoloaded by every pytest run where agnostic-ml is installed (a pytest11 entry point)
    "agnostic_ml.testing.plugin",
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


def test_only_the_layer_imports_array_api_compat_or_extra():
    """Backend knowledge lives in ``agnostic_ml/_array_api/``; algorithms import its helpers.

    ``testing/`` (the public kit builds namespaces for a user's backends) and ``accuracy/``
    (still reading ``array_api_compat`` directly in a few places) are the known exceptions.
    """
    import ast
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[1] / "agnostic_ml"
    allowed = {"_array_api", "accuracy", "testing"}
    offenders = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if rel.parts[0] in allowed:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            if any(n.split(".")[0] in ("array_api_compat", "array_api_extra") for n in names):
                offenders.append(f"{rel}:{node.lineno}")
    assert not offenders, f"import array_api_compat / array_api_extra only in agnostic_ml/_array_api: {offenders}"
