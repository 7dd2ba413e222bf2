"""The two errors a command reports to the user: both print one line and exit with code 2."""

from __future__ import annotations

__all__ = ["CLIError", "UsageError"]


class CLIError(Exception):
    """A user-facing error: printed as ``agnostic-ml <cmd>: error: <msg>``, exit code 2."""


class UsageError(CLIError):
    """The command line itself is wrong (an unknown option, a bad value, a missing argument).

    Raised by the parser instead of argparse's usage block; ``prog`` is the command that
    was being parsed (``agnostic-ml mine``).
    """

    def __init__(self, prog: str, message: str) -> None:
        super().__init__(message)
        self.prog = prog
