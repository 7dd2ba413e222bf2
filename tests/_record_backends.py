"""pytest plugin: record which tests ran on which array backend, and how they ended.

The documentation's backend support table (``docs/backends.md``) is generated from this
record, so that a cell says "tested" only when that backend's tests really ran and passed
in the recorded run (see ``docs/_hooks/backend_table.py``).

Enable it with ``-p tests._record_backends --record-backends PATH`` (``.ci/run`` does), or
list ``"tests._record_backends"`` in ``pytest_plugins`` of the root conftest. Without
``--record-backends`` (or ``AGNOSTIC_ML_RECORD_BACKENDS``) it records nothing.

What is recorded, per test node id: its backend and its outcome (``passed``, ``failed``,
``skipped`` with the skip reason). The backend is read from the test's parameters, not
from its name: the value of a parametrised fixture or argument called ``backend`` (or
starting with ``backend``), given as a backend name or an object with a ``name``
attribute (the backend fixture's ``Backend``). A test without a backend parameter is
recorded as backend ``dask`` when its module imports ``dask``, and as ``torch`` (torch on
the CPU) when its module imports the torch adapter (``agnostic_ml_torch`` or a name from
it): the adapter's tests run on CPU tensors; a test that runs the adapter on another device
must say so with a backend parameter. Other tests are recorded with ``backend: null``. The list of backends in the record is the set of values
the backend parameters took at collection time: the test suite's own backend list,
whatever module defines it.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import types
from typing import Any

import pytest

_ENV = "AGNOSTIC_ML_RECORD_BACKENDS"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("agnostic-ml")
    group.addoption(
        "--record-backends",
        metavar="PATH",
        default=os.environ.get(_ENV) or None,
        help="write a JSON record of which tests ran on which backend and their outcome "
        f"(for the docs' backend table; default: ${_ENV})",
    )


def _backend_name(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    name = getattr(value, "name", None)
    if isinstance(name, str):
        return name
    if isinstance(value, types.ModuleType):
        return value.__name__
    return None


def backend_of(item: pytest.Item) -> str | None:
    """The backend a collected test runs on, or None if it is not backend-parametrised."""
    callspec = getattr(item, "callspec", None)
    if callspec is not None:
        for key, value in callspec.params.items():
            if key == "backend" or key.startswith("backend"):
                name = _backend_name(value)
                if name is not None:
                    return name
    module = getattr(item, "module", None)
    if module is not None:
        values = list(vars(module).values())
        if any(_from_package(v, "dask", modules_only=True) for v in values):
            return "dask"
        if any(_from_package(v, "agnostic_ml_torch") for v in values):
            return "torch"
    return None


def _from_package(value: Any, package: str, *, modules_only: bool = False) -> bool:
    """Whether ``value`` (a module-level name of a test module) was imported from ``package``."""
    if isinstance(value, types.ModuleType):
        name = value.__name__
    elif modules_only or not (isinstance(value, type) or callable(value)):
        return False
    else:
        name = getattr(value, "__module__", None) or ""
    return name.split(".")[0] == package


def pytest_configure(config: pytest.Config) -> None:
    path = config.getoption("record_backends", None)
    if path:
        config.pluginmanager.register(BackendRecorder(config, path), "agnostic-ml-backend-recorder")


class BackendRecorder:
    """Collects (node id -> backend) at collection and (node id -> outcome) from the reports."""

    def __init__(self, config: pytest.Config, path: str) -> None:
        self.config = config
        self.path = path
        self.backend: dict[str, str | None] = {}
        self.result: dict[str, dict[str, Any]] = {}
        self.seen: list[str] = []

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            b = backend_of(item)
            self.backend[item.nodeid] = b
            if b is not None and b not in self.seen:
                self.seen.append(b)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        entry = self.result.setdefault(report.nodeid, {"outcome": None})
        if report.failed:
            entry["outcome"] = "failed"
            entry.pop("reason", None)
        elif report.skipped and entry["outcome"] != "failed":
            entry["outcome"] = "skipped"
            if hasattr(report, "wasxfail"):
                entry["reason"] = "xfail: " + str(report.wasxfail)
            elif isinstance(report.longrepr, tuple) and len(report.longrepr) == 3:
                entry["reason"] = str(report.longrepr[2]).removeprefix("Skipped: ")
        elif report.passed and report.when == "call" and entry["outcome"] is None:
            entry["outcome"] = "passed"

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        tests = {}
        for nodeid, backend in self.backend.items():
            entry = self.result.get(nodeid, {})
            rec: dict[str, Any] = {"backend": backend, "outcome": entry.get("outcome") or "not run"}
            if "reason" in entry:
                rec["reason"] = entry["reason"]
            tests[nodeid] = rec
        payload = {
            "format": "agnostic-ml backend record 1",
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "args": list(self.config.invocation_params.args),
            "exitstatus": int(exitstatus),
            "backends": self.seen,
            "tests": tests,
        }
        os.makedirs(os.path.dirname(os.path.abspath(self.path)) or ".", exist_ok=True)
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(payload, f, indent=0, sort_keys=True)
        os.replace(tmp, self.path)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        terminalreporter.write_line(f"backend record: {len(self.backend)} tests -> {self.path}")
