"""``agnostic-ml bench``: run a benchmark script of a source checkout (side by side with PML)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from ._errors import CLIError
from ._parser import Command

__all__ = ["BENCHMARKS", "COMMAND", "find_benchmark", "find_benchmarks_dir"]

BENCHMARKS = ("distances", "miners", "accuracy", "losses")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", choices=BENCHMARKS, help="which benchmark")
    p.add_argument("script_args", nargs=argparse.REMAINDER, help="arguments for the benchmark script")


def find_benchmarks_dir() -> Path | None:
    """``benchmarks/`` of the source checkout this package runs from (None in a wheel).

    ``AGNOSTIC_ML_BENCHMARKS`` overrides; then the folder beside the package; then the
    current directory, when it is an agnostic-ml checkout.
    """
    env = os.environ.get("AGNOSTIC_ML_BENCHMARKS")
    candidates = [Path(env)] if env else []
    root = Path(__file__).resolve().parents[2]  # agnostic_ml/cli/bench.py -> the checkout
    candidates += [root / "benchmarks", Path.cwd() / "benchmarks"]
    for c in candidates:
        if c.is_dir() and (env or (c.parent / "pyproject.toml").is_file()):
            return c
    return None


def find_benchmark(name: str, folder: Path) -> Path | None:
    """The script of benchmark ``name`` in ``folder`` (bench_<name>.py, <name>.py, ...)."""
    for pattern in (f"bench_{name}.py", f"{name}.py", f"bench_{name}*.py", f"{name}_*.py", f"*{name}*.py"):
        hits = sorted(folder.glob(pattern))
        if hits:
            return hits[0]
    return None


def run(args: argparse.Namespace) -> int:
    folder = find_benchmarks_dir()
    if folder is None:
        raise CLIError(
            "benchmarks run from a source checkout of agnostic-ml (they are not installed with "
            "the wheel): git clone the repository, pip install -e '.[bench]', then run "
            "'agnostic-ml bench ...' there (or set AGNOSTIC_ML_BENCHMARKS to its benchmarks/ folder)"
        )
    script = find_benchmark(args.name, folder)
    if script is None:
        raise CLIError(f"no {args.name} benchmark script in {folder}")
    extra = list(args.script_args)
    if extra[:1] == ["--"]:
        extra = extra[1:]
    cmd = [sys.executable, str(script), *extra]
    print(f"running {' '.join(cmd)}", file=sys.stderr)
    return subprocess.call(cmd, cwd=str(folder.parent))


COMMAND = Command(
    name="bench",
    help="run a benchmark script of a source checkout (compares with PML)",
    description=(
        "Run benchmarks/<name> from a source checkout of agnostic-ml (benchmarks are not "
        "part of the wheel). Remaining arguments go to the script."
    ),
    add_arguments=add_arguments,
    run=run,
)
