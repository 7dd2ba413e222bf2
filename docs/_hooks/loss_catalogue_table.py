"""Tables of the losses, generated from the test suite's loss catalogue.

``tests/torch_adapter/loss_catalogue.py`` (with its family files ``catalogue_*.py``) has one
entry per tested loss configuration: its kind, whether it takes labels, a miner's tuple, a
separate reference set, whether it has learnable weights, and, in ``why``, the reason for any
deliberate difference from PML that the differential tests allow for. The generic loss tests
(``test_losses_vs_pml.py``, ``test_losses_contract.py``) read exactly these flags, so the
tables below say what is tested, not what is intended:

- ``render_capabilities``: per loss class, what it accepts and how many configurations are
  compared with PML;
- ``render_differences``: every ``why`` of the catalogue, by configuration.

The catalogue needs torch, PML and pytest; without them the tables say they were not
generated. Run as a script to print both.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Any

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_CATALOGUE_DIRS = [os.path.join(_ROOT, "tests"), os.path.join(_ROOT, "tests", "torch_adapter")]
CATALOGUE = "tests/torch_adapter/loss_catalogue.py"


@dataclass
class LossRow:
    name: str
    kinds: list[str] = field(default_factory=list)
    labels: bool = False
    tuples: bool = False
    ref: bool = False
    learnable: bool = False
    configs: list[str] = field(default_factory=list)
    vs_pml: int = 0


def catalogue() -> tuple[list[Any] | None, str]:
    """The catalogue entries, or None and why they could not be loaded."""
    for p in (_ROOT, os.path.join(_ROOT, "adapters"), *_CATALOGUE_DIRS):
        if p not in sys.path:
            sys.path.insert(0, p)
    try:
        import loss_catalogue
    except BaseException as exc:  # pytest.importorskip raises Skipped (a BaseException)
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        return None, f"*Not generated*: the loss catalogue (`{CATALOGUE}`) could not be loaded in this build ({type(exc).__name__}: {exc})."
    return loss_catalogue.all_losses(), ""


def rows(cases: list[Any]) -> list[LossRow]:
    out: dict[str, LossRow] = {}
    for c in cases:
        name = type(c.ours()).__name__
        r = out.setdefault(name, LossRow(name))
        if c.kind not in r.kinds:
            r.kinds.append(c.kind)
        r.labels |= c.labels
        r.tuples |= c.tuples
        r.ref |= c.ref
        r.learnable |= c.learnable
        r.configs.append(c.name)
        r.vs_pml += c.pml is not None
    return sorted(out.values(), key=lambda r: r.name)


def _yes(b: bool) -> str:
    return "yes" if b else "—"


def render_capabilities() -> str:
    cases, why = catalogue()
    if cases is None:
        return why + "\n"
    lines = [
        "| loss | kind | labels | miner tuples (pairs and triplets) | separate `ref_emb` | learnable | configurations tested (vs PML) |",
        "|---|---|---|---|---|---|---|",
    ]
    rs = rows(cases)
    for r in rs:
        link = f"[`{r.name}`][agnostic_ml.losses.{r.name}]"
        lines.append(
            f"| {link} | {', '.join(r.kinds)} | {_yes(r.labels)} | {_yes(r.tuples)} | {_yes(r.ref)} | {_yes(r.learnable)} | "
            f"{len(r.configs)} ({r.vs_pml}) |"
        )
    lines += [
        "",
        f"Generated from the test catalogue (`{CATALOGUE}` and its `catalogue_*.py` files): {len(cases)} configurations "
        f"of {len(rs)} classes. *labels*: labels are required; *miner tuples*: the contract and PML-differential tests "
        "pass it a pair miner's and a triplet miner's output; *separate `ref_emb`*: they pass a reference set different "
        "from the batch.",
    ]
    return "\n".join(lines) + "\n"


def render_differences() -> str:
    cases, why = catalogue()
    if cases is None:
        return why + "\n"
    lines = ["| configuration | loss | what the differential test allows for, and why |", "|---|---|---|"]
    n = 0
    for c in cases:
        if c.why:
            n += 1
            lines.append(f"| `{c.name}` | `{type(c.ours()).__name__}` | {c.why.replace('|', '/')} |")
    lines += ["", f"Generated from the `why` fields of the test catalogue (`{CATALOGUE}`): {n} of {len(cases)} configurations."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render_capabilities())
    print(render_differences())
