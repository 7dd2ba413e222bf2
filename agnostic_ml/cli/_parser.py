"""The argument parser: one subcommand per module listed in :data:`COMMANDS`.

Adding a command (``check-loss``, say) means writing ``agnostic_ml/cli/check_loss.py``
with a module-level ``COMMAND = Command(...)`` and adding ``"check_loss"`` to
:data:`COMMANDS`; nothing else changes. A command module imports its heavy
dependencies inside ``run``, so building the parser (``agnostic-ml --help``) stays fast
and never imports torch.
"""

from __future__ import annotations

import argparse
import importlib
from dataclasses import dataclass
from typing import Callable, NoReturn

from ._errors import UsageError

__all__ = ["COMMANDS", "PROG", "Command", "build_parser", "commands"]

PROG = "agnostic-ml"

#: Command modules of this package, in the order ``--help`` lists them.
COMMANDS: tuple[str, ...] = ("demo", "mine", "evaluate", "check_miner", "check_loss", "bench")


@dataclass(frozen=True)
class Command:
    """One subcommand: its name and texts, how to add its arguments, how to run it.

    ``run(args)`` returns the exit code (0 success, 1 a failed check); it raises
    :class:`~agnostic_ml.cli.CLIError` for bad input (exit code 2).
    """

    name: str
    help: str
    description: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    epilog: str | None = None


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors raised as :class:`UsageError` (one line, exit code 2)
    instead of a usage block printed before the message."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(self.prog, message)


def commands() -> list[Command]:
    """The :class:`Command` of every module in :data:`COMMANDS`."""
    return [importlib.import_module(f".{name}", __package__).COMMAND for name in COMMANDS]


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of ``agnostic-ml`` (all subcommands)."""
    from .. import __version__

    parser = _Parser(
        prog=PROG,
        description=(
            "Deep metric learning on any array backend: mine pairs/triplets, evaluate "
            "retrieval accuracy and check miners on NumPy (or CuPy) arrays."
        ),
        epilog="Run 'agnostic-ml demo' for a tour on bundled data (nothing is downloaded).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for cmd in commands():
        p = sub.add_parser(cmd.name, help=cmd.help, description=cmd.description, epilog=cmd.epilog)
        cmd.add_arguments(p)
        p.set_defaults(handler=cmd.run)
    return parser
