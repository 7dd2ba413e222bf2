"""mkdocs hook: replace ``<!-- generated: NAME -->`` lines of the pages with generated Markdown.

The generated parts are the ones that must not drift from the code or from a measured run:

============================  ======================================================
``pml-summary``               per PML module, how many of its names are here
``pml-names``                 every PML 2.9.0 name and where it lives here (``pml_table.py``)
``backend-table``             backend support per component, from the test run's record
                              (``backend_table.py``)
``bench-miners-scaling``      the miner timings behind the benchmark plots
                              (``benchmarks/plot.py``, from ``docs/data/*.json``)
``loss-parameters``           every adapter loss with learnable parameters: its
                              ``state_dict`` and whether PML's loads both ways
                              (``state_table.py``, built and tried at build time)
``module-state``              the same for queues, histograms and memory banks
``loss-capabilities``         per loss: labels, miner tuples, ``ref_emb``, learnable,
                              from the test catalogue (``loss_catalogue_table.py``)
``loss-test-differences``     every ``why`` of the test catalogue: what the PML
                              differential tests allow for, and why
============================  ======================================================

An unknown name is an error, so a typo cannot silently drop a table.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from typing import Any, Callable

from mkdocs.exceptions import PluginError

import backend_table
import loss_catalogue_table
import pml_table
import state_table

_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(os.path.dirname(_HERE))
MARKER = re.compile(r"^<!-- generated: ([a-z0-9-]+) -->[ \t]*$", re.M)

_cache: dict[str, Any] = {}

# Known docstring problems in files this hook's owner may not edit, silenced one by one so
# that ``mkdocs build --strict`` keeps failing on every other griffe warning. Each entry:
# (source file, regex of the warning). Delete an entry when its docstring is fixed.
KNOWN_DOCSTRING_ISSUES: list[tuple[str, str]] = [
    # check_backend_consistency: a paragraph after "Parameters" without a "Notes" header is
    # read as parameters named 'Each', 'device', 'near', '*exact'.
    ("agnostic_ml/testing/invariants.py", r"(Parameter '.*' does not appear in the function signature|No types or annotations for parameters)"),
]


class _KnownIssues(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        return not any(f in msg and re.search(pattern, msg) for f, pattern in KNOWN_DOCSTRING_ISSUES)


logging.getLogger("mkdocs.plugins.griffe").addFilter(_KnownIssues())


def _our_packages_importable() -> None:
    for p in (_ROOT, os.path.join(_ROOT, "adapters")):
        if p not in sys.path:
            sys.path.insert(0, p)


def _pml_rows() -> Any:
    if "pml" not in _cache:
        _our_packages_importable()
        _cache["pml"] = pml_table.rows()
    return _cache["pml"]


def _state_rows() -> Any:
    if "state" not in _cache:
        _our_packages_importable()
        _cache["state"] = state_table.rows()
    return _cache["state"]


def _bench(name: str) -> Callable[[], str]:
    def render() -> str:
        bench_dir = os.path.join(_ROOT, "benchmarks")
        if bench_dir not in sys.path:
            sys.path.insert(0, bench_dir)
        import plot

        return plot.render_markdown(name, os.path.join(_ROOT, "docs", "data"))

    return render


GENERATORS: dict[str, Callable[[], str]] = {
    "pml-summary": lambda: pml_table.render_summary(_pml_rows()),
    "pml-names": lambda: pml_table.render_table(_pml_rows()),
    "backend-table": lambda: backend_table.render(root=_ROOT),
    "loss-parameters": lambda: state_table.render_parameters(_state_rows()),
    "module-state": lambda: state_table.render_state(_state_rows()),
    "loss-capabilities": lambda: loss_catalogue_table.render_capabilities(),
    "loss-test-differences": lambda: loss_catalogue_table.render_differences(),
    "bench-miners-scaling": _bench("miners-scaling"),
    "bench-distances-scaling": _bench("distances-scaling"),
}


def expand(markdown: str, where: str = "") -> str:
    def sub(m: re.Match) -> str:
        name = m.group(1)
        if name not in GENERATORS:
            raise PluginError(f"{where}: unknown generated block {name!r}; known: {sorted(GENERATORS)}")
        return GENERATORS[name]().rstrip("\n")

    return MARKER.sub(sub, markdown)


def on_pre_build(**kwargs: Any) -> None:
    _cache.clear()


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    return expand(markdown, page.file.src_path)


# Docstrings cite each other with Sphinx roles (":class:`BaseMiner`"), which Markdown renders
# as ":class:" followed by code; keep the code, drop the role.
_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|data|obj|exc|const):(?=<code>)")


def on_page_content(html: str, **kwargs: Any) -> str:
    return _ROLE.sub("", html)
