"""The "every PML name and where it lives here" table of the migration page, generated.

PML's side: every public class and function of pytorch-metric-learning 2.9.0, enumerated
from the installed package (``pml_names()``): the names each subpackage exports
(``pytorch_metric_learning.miners.BatchHardMiner``) and those each ``utils`` module
defines. Without PML installed the committed snapshot ``pml-2.9.0-names.json`` is used; a
test checks that the snapshot equals the installed package.

Our side: discovered by importing ``agnostic_ml`` and, when it imports, ``agnostic_ml_torch``.
A PML name is looked up, in order, in the modules of ``candidates(module)`` (our module of
the same path, then the equivalents in ``EQUIVALENT_MODULES``), then in every public module
of both packages; ``RENAMED`` lists the few names that live here under another name. What
is found nowhere is "not yet", so the table fills in by itself as the adapter lands.

Run as a script to print the table, or ``--write-snapshot`` to refresh the snapshot from
the installed PML.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import pkgutil
import sys
from dataclasses import dataclass, field

PML_VERSION = "2.9.0"
SNAPSHOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), f"pml-{PML_VERSION}-names.json")
PACKAGES = ("agnostic_ml", "agnostic_ml_torch")

# PML module (relative to pytorch_metric_learning) -> our modules that take its role, tried
# after agnostic_ml.<same path> and agnostic_ml_torch.<same path>.
EQUIVALENT_MODULES: dict[str, list[str]] = {
    "utils.loss_and_miner_utils": ["agnostic_ml.tuples"],
    "utils.accuracy_calculator": ["agnostic_ml.accuracy", "agnostic_ml.accuracy.metrics"],
    "utils.inference": ["agnostic_ml.accuracy", "agnostic_ml_torch.inference"],
    "utils.distributed": ["agnostic_ml_torch.distributed"],
    "regularizers": [],
    "losses": [],
}

# (PML module, PML name) -> (our dotted name, note). Only names whose role is kept under
# another name; everything else is matched by name.
RENAMED: dict[tuple[str, str], tuple[str, str]] = {
    ("utils.inference", "FaissKMeans"): (
        "agnostic_ml.accuracy.KMeans",
        "array-API k-means, the default `kmeans_func`; faiss is not needed",
    ),
    ("utils.accuracy_calculator", "mean_reciprocal_rank"): (
        "agnostic_ml.accuracy.metrics.reciprocal_rank",
        "per-query values from a rank matrix; `AccuracyCalculator` reports their mean as `mean_reciprocal_rank`",
    ),
    ("utils.inference", "CustomKNN"): (
        "agnostic_ml.accuracy.ExactKNN",
        "`ExactKNN(distance=...)`: exact kNN with any distance object, in blocks",
    ),
}

_RANKS = "per-query values from a rank matrix `(ranks, n_rel)`, not PML's `(knn_labels, query_labels, ...)`"
# (PML module, PML name) -> note, for names kept with another signature.
NOTES: dict[tuple[str, str], str] = {
    ("utils.distributed", "all_gather"): "every rank's rows in rank order and the local offset, `(x, offset)` "
    "(PML: the other ranks' rows, None with one process)",
    ("utils.distributed", "gather"): "`(all_emb, all_labels, labels, offset)`, rows in rank order "
    "(PML: `(all_emb, all_labels, labels)`, local rows first)",
    ("utils.accuracy_calculator", "r_precision"): _RANKS,
    ("utils.accuracy_calculator", "mean_average_precision"): _RANKS,
    ("utils.accuracy_calculator", "precision_at_k"): _RANKS,
}


# ------------------------------------------------------------------------------------------
# PML's names
# ------------------------------------------------------------------------------------------
def _public(obj: object) -> bool:
    return inspect.isclass(obj) or inspect.isfunction(obj)


def pml_names_live() -> dict[str, list[str]]:
    """{PML module: [public names]} from the installed pytorch-metric-learning."""
    import pytorch_metric_learning as pml

    out: dict[str, list[str]] = {}
    for info in sorted(pkgutil.iter_modules(pml.__path__), key=lambda m: m.name):
        mod = importlib.import_module(f"pytorch_metric_learning.{info.name}")
        if info.name == "utils":
            for sub in sorted(pkgutil.iter_modules(mod.__path__), key=lambda m: m.name):
                sm = importlib.import_module(f"pytorch_metric_learning.utils.{sub.name}")
                names = [n for n, o in vars(sm).items() if not n.startswith("_") and _public(o) and o.__module__ == sm.__name__]
                if names:
                    out[f"utils.{sub.name}"] = sorted(names)
            continue
        prefix = mod.__name__ + "."
        names = [
            n
            for n, o in vars(mod).items()
            if not n.startswith("_") and _public(o) and (o.__module__ + ".").startswith(prefix)
        ]
        if names:
            out[info.name] = sorted(names)
    return out


def pml_names() -> tuple[dict[str, list[str]], str]:
    """PML's names and where they came from ("installed" or the snapshot)."""
    try:
        import pytorch_metric_learning as pml
    except ImportError:
        pml = None
    if pml is not None and pml.__version__ == PML_VERSION:
        return pml_names_live(), f"installed pytorch-metric-learning {PML_VERSION}"
    with open(SNAPSHOT) as f:
        snap = json.load(f)
    return snap["modules"], f"snapshot of pytorch-metric-learning {snap['version']} (`docs/_hooks/{os.path.basename(SNAPSHOT)}`)"


def write_snapshot() -> None:
    import pytorch_metric_learning as pml

    if pml.__version__ != PML_VERSION:
        raise SystemExit(f"installed PML is {pml.__version__}, expected {PML_VERSION}")
    with open(SNAPSHOT, "w") as f:
        json.dump({"version": PML_VERSION, "modules": pml_names_live()}, f, indent=1, sort_keys=True)
        f.write("\n")


# ------------------------------------------------------------------------------------------
# Our names
# ------------------------------------------------------------------------------------------
@dataclass
class Ours:
    modules: dict[str, object] = field(default_factory=dict)  # importable public modules
    missing_packages: dict[str, str] = field(default_factory=dict)  # package -> why not importable

    def module(self, name: str) -> object | None:
        return self.modules.get(name)


def discover() -> Ours:
    """Import every public module of agnostic_ml and (if importable) agnostic_ml_torch."""
    ours = Ours()
    for pkg_name in PACKAGES:
        try:
            pkg = importlib.import_module(pkg_name)
        except ImportError as exc:
            ours.missing_packages[pkg_name] = f"{type(exc).__name__}: {exc}"
            continue
        ours.modules[pkg_name] = pkg
        for info in pkgutil.walk_packages(pkg.__path__, prefix=pkg_name + "."):
            parts = info.name.split(".")
            if any(p.startswith("_") for p in parts[1:]):
                continue
            ours.modules[info.name] = importlib.import_module(info.name)
    return ours


def candidates(pml_module: str) -> list[str]:
    return [f"agnostic_ml.{pml_module}", f"agnostic_ml_torch.{pml_module}", *EQUIVALENT_MODULES.get(pml_module, [])]


def _has(mod: object, name: str) -> bool:
    """Whether ``mod`` offers ``name`` publicly: listed in its ``__all__``, or (without one) defined there."""
    obj = getattr(mod, name, None)
    if obj is None or inspect.ismodule(obj):
        return False
    exported = getattr(mod, "__all__", None)
    if exported is not None:
        return name in exported
    return getattr(obj, "__module__", None) == getattr(mod, "__name__", None)


@dataclass
class Row:
    pml_module: str
    name: str
    where: list[str]
    status: str  # "same name", "renamed", "not yet", "unknown"
    note: str = ""


def lookup(pml_module: str, name: str, ours: Ours) -> Row:
    renamed = RENAMED.get((pml_module, name))
    if renamed is not None:
        target, note = renamed
        mod_name, _, attr = target.rpartition(".")
        mod = ours.module(mod_name)
        if mod is not None and _has(mod, attr):
            return Row(pml_module, name, [target], "renamed", note)
    where = [f"{m}.{name}" for m in candidates(pml_module) if ours.module(m) is not None and _has(ours.module(m), name)]
    if not where:  # anywhere else in our public modules
        where = [f"{m}.{name}" for m, mod in ours.modules.items() if _has(mod, name)]
        where = sorted(set(where), key=lambda s: (s.count("."), s))[:2]
    if where:
        return Row(pml_module, name, where, "same name", NOTES.get((pml_module, name), ""))
    if "agnostic_ml_torch" in ours.missing_packages:
        return Row(pml_module, name, [], "unknown", "agnostic_ml_torch not importable in this build")
    return Row(pml_module, name, [], "not yet")


def rows() -> tuple[list[Row], str, Ours]:
    names, source = pml_names()
    ours = discover()
    out = [lookup(m, n, ours) for m in sorted(names) for n in names[m]]
    return out, source, ours


# ------------------------------------------------------------------------------------------
# Markdown
# ------------------------------------------------------------------------------------------
def _status_cell(r: Row) -> str:
    return {"same name": "here", "renamed": "here, renamed", "not yet": "not yet", "unknown": "unknown"}[r.status]


def render_summary(data: tuple[list[Row], str, Ours] | None = None) -> str:
    rs, source, ours = data or rows()
    by_mod: dict[str, list[Row]] = {}
    for r in rs:
        by_mod.setdefault(r.pml_module, []).append(r)
    lines = ["| PML module (`pytorch_metric_learning.`...) | names | here | not yet |", "|---|---:|---:|---|"]
    for m, group in by_mod.items():
        here = [r for r in group if r.status in ("same name", "renamed")]
        missing = [r for r in group if r.status != "same name" and r.status != "renamed"]
        miss = "all" if len(missing) == len(group) and len(group) > 3 else ", ".join(f"`{r.name}`" for r in missing) or "—"
        lines.append(f"| `{m}` | {len(group)} | {len(here)} | {miss} |")
    total = len(rs)
    here = sum(r.status in ("same name", "renamed") for r in rs)
    lines.append("")
    lines.append(f"{here} of {total} PML names are here. PML's names: {source}.")
    for pkg, why in ours.missing_packages.items():
        lines.append(f"`{pkg}` could not be imported in this build ({why}); its names are marked *unknown*.")
    return "\n".join(lines) + "\n"


def render_table(data: tuple[list[Row], str, Ours] | None = None) -> str:
    rs, source, _ = data or rows()
    lines = []
    current = None
    for r in rs:
        if r.pml_module != current:
            current = r.pml_module
            lines += ["", f"#### `{current}`", "", f"`pytorch_metric_learning.{current}`:", "", "| PML name | here | where | note |", "|---|---|---|---|"]
        where = "<br>".join(f"`{w}`" for w in r.where) or "—"
        lines.append(f"| `{r.name}` | {_status_cell(r)} | {where} | {r.note} |")
    return "\n".join(lines).lstrip("\n") + "\n"


if __name__ == "__main__":
    if "--write-snapshot" in sys.argv:
        write_snapshot()
        print(f"wrote {SNAPSHOT}")
    else:
        data = rows()
        print(render_summary(data))
        print(render_table(data))
