"""The pytest plugin (agnostic_ml.testing.plugin), run on tiny user test files with pytester.

A user's test that asks for ``xp`` / ``device`` runs once per backend of
``agnostic_ml.testing.backends.BACKEND_NAMES``: the installed ones pass, the others (GPUs
here) are skipped with the reason; a backend named in ``AGNOSTIC_ML_TEST_BACKENDS`` that is
missing fails instead, and an unknown name is a usage error.
"""

from __future__ import annotations

import pathlib

import pytest

from agnostic_ml.testing.backends import BACKEND_NAMES, available_backends

PLUGIN = "agnostic_ml.testing.plugin"
ROOT = pathlib.Path(__file__).resolve().parents[1]

USER_TEST = """
import numpy as np

def test_sum(xp, device, backend):
    x = xp.asarray([1.0, 2.0], device=device)
    assert float(backend.to_numpy(xp.sum(x))) == 3.0
"""


@pytest.fixture
def plain_env(monkeypatch):
    """No required backends, no entry-point plugins: only what the command line loads."""
    monkeypatch.delenv("AGNOSTIC_ML_TEST_BACKENDS", raising=False)
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")


@pytest.fixture(scope="module")
def available():
    return [b.name for b in available_backends()]


def test_runs_once_per_backend_and_skips_the_absent_visibly(pytester, plain_env, available):
    pytester.makepyfile(test_user=USER_TEST)
    result = pytester.runpytest("-p", PLUGIN, "-p", "no:cacheprovider", "-v", "-rs")
    missing = [b for b in BACKEND_NAMES if b not in available]
    result.assert_outcomes(passed=len(available), skipped=len(missing))
    assert {"numpy", "torch", "array_api_strict", "array_api_strict_strictest"} <= set(available)
    result.stdout.fnmatch_lines([f"*test_sum[[]{b}[]] PASSED*" for b in available], consecutive=False)
    for b in missing:  # each absent backend is named, with the reason, in the -rs summary
        result.stdout.fnmatch_lines([f"SKIPPED * backend {b} unavailable: *"])


def test_dtype_and_check_fixtures(pytester, plain_env, available):
    pytester.makepyfile(
        test_user="""
        def test_ok(xp, device, dtype, check):
            x = xp.ones((2, 3), dtype=dtype, device=device)
            check(x, dtype=dtype, shape=(2, 3))

        def test_wrong_dtype_is_caught(xp, device, check):
            x = xp.ones(2, dtype=xp.float32, device=device)
            check(x, dtype=xp.int64)
        """
    )
    result = pytester.runpytest("-p", PLUGIN, "-p", "no:cacheprovider", "-v")
    n, skipped = len(available), len(BACKEND_NAMES) - len(available)
    result.assert_outcomes(passed=2 * n, failed=n, skipped=3 * skipped)
    result.stdout.fnmatch_lines(["*test_ok[[]numpy-float32[]] PASSED*", "*test_ok[[]numpy-float64[]] PASSED*"], consecutive=False)
    result.stdout.fnmatch_lines(["*AssertionError: dtype *float32 != *int64*"])


def test_strictest_backend_runs_inside_its_flags(pytester, plain_env):
    pytester.makepyfile(
        test_user="""
        import pytest

        def test_flags(backend, xp):
            if backend.name != "array_api_strict_strictest":
                pytest.skip("only the strictest backend")
            caps = xp.__array_namespace_info__().capabilities()
            assert caps["data-dependent shapes"] is False and caps["boolean indexing"] is False
            assert str(backend.device) != "CPU_DEVICE"
        """
    )
    result = pytester.runpytest("-p", PLUGIN, "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, skipped=len(BACKEND_NAMES) - 1)


def test_a_required_missing_backend_fails(pytester, plain_env, monkeypatch, available):
    missing = [b for b in BACKEND_NAMES if b not in available]
    if not missing:
        pytest.skip("every backend is installed here: none can be missing")
    monkeypatch.setenv("AGNOSTIC_ML_TEST_BACKENDS", f"numpy,{missing[0]}")
    pytester.makepyfile(test_user=USER_TEST)
    result = pytester.runpytest("-p", PLUGIN, "-p", "no:cacheprovider")
    result.assert_outcomes(passed=len(available), skipped=len(missing) - 1, errors=1)
    result.stdout.fnmatch_lines([f"*backend '{missing[0]}' is required by AGNOSTIC_ML_TEST_BACKENDS but unavailable*"])


def test_an_unknown_backend_name_is_a_usage_error(pytester, plain_env, monkeypatch):
    monkeypatch.setenv("AGNOSTIC_ML_TEST_BACKENDS", "numpy,nunpy")
    pytester.makepyfile(test_user=USER_TEST)
    result = pytester.runpytest("-p", PLUGIN, "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*AGNOSTIC_ML_TEST_BACKENDS names unknown backends [[]'nunpy'[]]*"])


def test_pytest_plugins_in_a_conftest(pytester, plain_env, available):
    pytester.makeconftest(f"pytest_plugins = [{PLUGIN!r}]")
    pytester.makepyfile(test_user=USER_TEST)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=len(available), skipped=len(BACKEND_NAMES) - len(available))


def _entry_point():
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return project["entry-points"]["pytest11"]


def test_the_entry_point_loads_the_plugin_alone_and_beside_dash_p(pytester, monkeypatch, available):
    """As installed: pyproject's pytest11 entry point, autoloaded, with and without ``-p``.

    Its name is the module's, so ``-p agnostic_ml.testing.plugin`` finds it loaded instead
    of registering the module a second time (which pluggy refuses)."""
    (name, value), = _entry_point().items()
    assert name == value == PLUGIN
    site = pytester.mkdir("site")
    info = site / "fake_agnostic_ml-0.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-agnostic-ml\nVersion: 0.0\n")
    (info / "entry_points.txt").write_text(f"[pytest11]\n{name} = {value}\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delenv("AGNOSTIC_ML_TEST_BACKENDS", raising=False)
    monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    pytester.makepyfile(test_user=USER_TEST)
    for extra in ([], ["-p", PLUGIN]):
        result = pytester.runpytest("-p", "no:cacheprovider", *extra)
        result.assert_outcomes(passed=len(available), skipped=len(BACKEND_NAMES) - len(available))
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", f"no:{PLUGIN}")
    result.assert_outcomes(errors=1)  # turned off: the fixtures are gone
    result.stdout.fnmatch_lines(["*fixture 'xp' not found*"])


def test_the_plugin_sets_no_hypothesis_profile():
    import ast

    src = (ROOT / "agnostic_ml" / "testing" / "plugin.py").read_text()
    names = {n.id for n in ast.walk(ast.parse(src)) if isinstance(n, ast.Name)}
    mods = {a.name for n in ast.walk(ast.parse(src)) if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
    assert "hypothesis" not in mods and "settings" not in names
