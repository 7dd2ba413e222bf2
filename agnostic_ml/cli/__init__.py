"""The ``agnostic-ml`` command: demo, mine, evaluate, check-miner, check-loss, bench.

One module per command (:mod:`.demo`, :mod:`.mine`, :mod:`.evaluate`,
:mod:`.check_miner`, :mod:`.check_loss`, :mod:`.bench`), each defining a ``COMMAND``; the shared pieces are
the parser and its command list (:mod:`._parser`), the entry point and exit codes
(:mod:`._app`), what is built from text (miners, distances, ``--param``:
:mod:`._registry`), input files and atomic outputs (:mod:`._files`) and printing
(:mod:`._format`). To add a command, see :mod:`._parser`.

Every command imports what it needs when it runs, so ``agnostic-ml --help`` is fast and
nothing here imports torch (``check-loss`` imports it when it runs); CuPy is imported only for ``--device cuda``.

Exit codes: 0 success; 1 a ``check-miner`` or ``check-loss`` invariant was violated (or a benchmark
failed); 2 bad usage or bad input (one line on stderr, without a traceback);
130 interrupted.
"""

from __future__ import annotations

from ._app import main
from ._errors import CLIError, UsageError
from ._parser import COMMANDS, Command, build_parser
from ._registry import available_miners, find_miner, make_distance, make_miner, parse_params
from .bench import find_benchmark, find_benchmarks_dir
from .evaluate import evaluation_phases

__all__ = ["main", "build_parser", "CLIError", "available_miners", "make_miner", "parse_params"]
