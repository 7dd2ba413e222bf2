"""The backend support table of the docs, generated from the test suite's backend record.

The record is the JSON file that ``tests/_record_backends.py`` writes (``.ci/run`` passes
``--record-backends build/test-record/backends.json`` and then builds the docs). A cell is
"tested" only when tests of that component ran on that backend in the recorded run and
none failed; with no record every cell says "not run".

Adding a component (e.g. the torch adapter's trainers) is one line in ``COMPONENTS``. The torch
adapter's tests have no backend parameter; the recorder counts them for ``torch`` (CPU)
because their modules import ``agnostic_ml_torch``.

Run as a script to print the table: ``python docs/_hooks/backend_table.py [RECORD.json ...]``.
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass
from typing import Iterable

DEFAULT_RECORD = os.path.join("build", "test-record", "backends.json")
RECORD_ENV = "AGNOSTIC_ML_BACKEND_RECORD"  # os.pathsep-separated list of record files

# (component, API page relative to docs/, regex matched against the test file's path).
# A test file feeds the first component whose pattern matches it.
COMPONENTS: list[tuple[str, str | None, str]] = [
    ("Distances", "api/distances.md", r"test_distance"),
    ("Tuple utilities", "api/tuples.md", r"test_tuples"),
    ("Miners", "api/miners.md", r"miners|miner_contract"),
    ("Reducers", "api/reducers.md", r"test_reducer"),
    ("Regularizers", "api/regularizers.md", r"regularizer"),
    # the adapter's loss tests (not the testing kit's check_loss tests) and the core formulas
    ("Losses", "api/losses.md", r"torch_adapter/test_(?!check_)\w*loss|test_pair_loss_math"),
    ("Samplers", "api/samplers.md", r"sampler"),
    ("Accuracy", "api/accuracy.md", r"test_accuracy|test_knn|test_kmeans"),
    ("Distributed", "api/distributed.md", r"test_distributed"),
    ("Torch adapter shells", "torch-adapter.md", r"torch_adapter/test_(shells|adapter)\b"),
    ("Testing kit", "api/testing.md", r"test_testing|test_check_|test_plugin"),
    ("Command line", "cli.md", r"test_cli"),
]

# Column order and titles; backends the record names that are not listed here get a column too.
COLUMNS: list[tuple[str, str]] = [
    ("numpy", "NumPy"),
    ("cupy", "CuPy"),
    ("torch", "torch CPU"),
    ("torch_cuda", "torch CUDA"),
    ("array_api_strict", "array-api-strict"),
    ("array_api_strict_strictest", "array-api-strict (strictest)"),
    ("dask", "Dask"),
]
GPU_BACKENDS = {"cupy", "torch_cuda"}


@dataclass
class Cell:
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    not_run: int = 0
    reason: str = ""

    def text(self, backend: str) -> str:
        if self.failed:
            return f"**failed** ({self.failed} of {self.passed + self.failed})"
        if self.passed:
            extra = f"<br>{self.skipped} skipped" if self.skipped else ""
            return f"tested ({self.passed}){extra}"
        if self.skipped:
            if backend in GPU_BACKENDS:
                return "skipped (no GPU)"
            return f"skipped ({_short(self.reason)})" if self.reason else "skipped"
        if self.not_run:
            return "not run"
        return "no tests"


def _short(reason: str, n: int = 60) -> str:
    reason = reason.replace("|", "/").replace("\n", " ")
    return reason if len(reason) <= n else reason[: n - 3] + "..."


def record_paths(root: str = ".") -> list[str]:
    env = os.environ.get(RECORD_ENV)
    paths = [p for p in env.split(os.pathsep) if p] if env else [DEFAULT_RECORD]
    return [p if os.path.isabs(p) else os.path.join(root, p) for p in paths]


def load_records(paths: Iterable[str]) -> list[dict]:
    """The records that exist among ``paths`` (missing files are skipped; bad ones raise)."""
    out = []
    for p in paths:
        if os.path.exists(p):
            with open(p) as f:
                rec = json.load(f)
            if not str(rec.get("format", "")).startswith("agnostic-ml backend record"):
                raise ValueError(f"{p}: not an agnostic-ml backend record")
            rec["_path"] = p
            out.append(rec)
    return out


def component_of(nodeid: str) -> str | None:
    path = nodeid.split("::", 1)[0]
    for name, _, pattern in COMPONENTS:
        if re.search(pattern, path):
            return name
    return None


def tabulate(records: list[dict]) -> tuple[list[str], dict[tuple[str, str], Cell], list[str]]:
    """(backend columns, {(component, backend): Cell}, test files of no component)."""
    backends = [b for b, _ in COLUMNS]
    cells: dict[tuple[str, str], Cell] = {}
    unattributed: set[str] = set()
    for rec in records:
        for b in rec.get("backends", []):
            if b not in backends:
                backends.append(b)
        for nodeid, t in rec["tests"].items():
            b = t.get("backend")
            if b is None:
                continue
            comp = component_of(nodeid)
            if comp is None:
                unattributed.add(nodeid.split("::", 1)[0])
                continue
            c = cells.setdefault((comp, b), Cell())
            outcome = t.get("outcome")
            if outcome == "passed":
                c.passed += 1
            elif outcome == "failed":
                c.failed += 1
            elif outcome == "skipped":
                c.skipped += 1
                c.reason = c.reason or t.get("reason", "")
            else:
                c.not_run += 1
    return backends, cells, sorted(unattributed)


def render(records: list[dict] | None = None, *, root: str = ".", link_prefix: str = "") -> str:
    """Markdown: the table, and what it was generated from."""
    if records is None:
        records = load_records(record_paths(root))
    titles = dict(COLUMNS)
    backends, cells, unattributed = tabulate(records)
    head = ["component", *[titles.get(b, b) for b in backends]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, page, _ in COMPONENTS:
        label = f"[{name}]({link_prefix}{page})" if page else name
        if not records:
            row = ["not run"] * len(backends)
        else:
            row = [cells.get((name, b), Cell()).text(b) for b in backends]
        lines.append("| " + " | ".join([label, *row]) + " |")
    lines.append("")
    if not records:
        lines.append(
            f"*Not run*: no test record was found ({', '.join(f'`{os.path.relpath(p, root)}`' for p in record_paths(root))}). "
            "Run the tests with `--record-backends` first (`bash .ci/run` does), then build the docs."
        )
    else:
        for rec in records:
            n = len(rec["tests"])
            status = "passed" if rec.get("exitstatus") == 0 else f"exit status {rec.get('exitstatus')}"
            args = " ".join(rec.get("args", []))
            lines.append(
                f"Recorded run: {rec.get('created', '?')}, Python {rec.get('python', '?')} on "
                f"{rec.get('platform', '?')}; {n} tests collected, pytest {status}; arguments `{args}`."
            )
            lines.append("")
        if unattributed:
            lines.append("Backend-parametrised test files not attributed to a component: " + ", ".join(f"`{u}`" for u in unattributed) + ".")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    recs = load_records(sys.argv[1:]) if len(sys.argv) > 1 else None
    print(render(recs))
