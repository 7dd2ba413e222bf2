"""The entry point: parse, run the command, turn every error into a message and an exit code.

Exit codes: 0 success; 1 a ``check-miner`` or ``check-loss`` invariant was violated (or a benchmark
failed); 2 bad usage or bad input (one line on stderr, ``agnostic-ml <cmd>: error: ...``,
without a traceback); 130 interrupted.
"""

from __future__ import annotations

import os
import sys
from typing import Sequence

from ._errors import CLIError, UsageError
from ._parser import PROG, build_parser

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit code.

    Never raises ``SystemExit`` itself (argparse's exits are turned into return codes), so
    it can be called in-process: ``main(["demo"])``.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(None if argv is None else list(argv))
    except UsageError as exc:
        return _fail(exc.prog, str(exc), hint=f"see '{exc.prog} --help'")
    except SystemExit as exc:  # --help or --version
        return _exit_code(exc)
    if getattr(args, "handler", None) is None:
        parser.print_help(sys.stderr)
        return 2
    prog = f"{PROG} {args.command}"
    try:
        return int(args.handler(args) or 0)
    except CLIError as exc:
        return _fail(prog, str(exc))
    except BrokenPipeError:
        # stdout was closed early (e.g. piped into `head`): stop quietly, as Unix tools do.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 0
    except (ValueError, TypeError, OSError) as exc:
        # Bad input: the library raises ValueError/TypeError naming the argument.
        if os.environ.get("AGNOSTIC_ML_TRACEBACK"):
            raise
        return _fail(prog, str(exc))
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


def _exit_code(exc: SystemExit) -> int:
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _fail(prog: str, message: str, hint: str | None = None) -> int:
    """Print ``<prog>: error: <message>`` as one line (a multi-line message is joined)."""
    text = " ".join(part.strip() for part in message.splitlines() if part.strip()) or "failed"
    if hint:
        text += f" ({hint})"
    print(f"{prog}: error: {text}", file=sys.stderr)
    return 2
