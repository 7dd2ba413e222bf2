"""Plain-text tables for reports (the command line and the testing kit print the same way)."""

from __future__ import annotations

import traceback
from typing import Any, Sequence

__all__ = ["table"]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def table(headers: Sequence[Any], rows: Sequence[Sequence[Any]], align: str | None = None) -> str:
    """A plain-text table with a dashed rule under the header.

    ``align`` has one letter per column, ``l`` or ``r``; by default the first column is
    left-aligned and the others right-aligned when every cell of the column is a number.

    >>> print(table(["metric", "value"], [["precision_at_1", "0.9500"], ["AMI", "0.7000"]]))
    metric           value
    --------------  ------
    precision_at_1  0.9500
    AMI             0.7000
    """
    cols = len(headers)
    cells = [[str(c) for c in r] for r in rows]
    widths = [max([len(str(headers[i]))] + [len(r[i]) for r in cells]) for i in range(cols)]
    if align is None:
        align = "".join("r" if i > 0 and cells and all(_is_number(r[i]) for r in cells) else "l" for i in range(cols))
    if len(align) != cols or set(align) - {"l", "r"}:
        raise ValueError(f"align must have one 'l' or 'r' per column ({cols}), got {align!r}")

    def line(items: Sequence[str]) -> str:
        out = [f"{items[i]:>{widths[i]}}" if align[i] == "r" else f"{items[i]:<{widths[i]}}" for i in range(cols)]
        return "  ".join(out).rstrip()

    sep = "  ".join("-" * w for w in widths)
    return "\n".join([line([str(h) for h in headers]), sep, *(line(r) for r in cells)])


def exception_line(exc: BaseException) -> str:
    """The last line of ``exc`` as Python prints it: ``"ValueError: labels must be 1-D"``."""
    return "".join(traceback.format_exception_only(type(exc), exc)).strip().splitlines()[-1]


def raised_where(exc: BaseException) -> str:
    """``" at file:line in function"`` of the innermost frame of ``exc``'s traceback ("" if none)."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    f = frames[-1]
    return f" at {f.filename}:{f.lineno} in {f.name}"

