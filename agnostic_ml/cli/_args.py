"""Argument types and the options several commands share (--param, --device, -o)."""

from __future__ import annotations

import argparse

__all__ = ["add_device_argument", "add_param_argument", "k_value", "positive_int"]


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def k_value(text: str) -> int | str:
    """argparse type of evaluate's ``--k``: a positive integer or ``max_bin_count``."""
    if text == "max_bin_count":
        return text
    try:
        return positive_int(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'max_bin_count', got {text!r}") from None


def add_param_argument(p: argparse.ArgumentParser, what: str = "miner") -> None:
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help=f"{what} constructor argument (repeatable), e.g. --param epsilon=0.2")


def add_device_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                   help="cpu: NumPy arrays; cuda: CuPy arrays on the GPU (needs the [cupy] extra)")
