"""The "what is in a state_dict" tables of the docs, generated from the torch adapter itself.

For every adapter class whose core class declares learnable arrays (``_learnable``) or state
(``_state_arrays``, ``_state_scalars``, also in a sub-object such as a miner's memory bank),
the module is built with small sizes (``BUILDS``), given one batch where its state is created
lazily, and its ``state_dict()`` is listed: each entry's name, kind (parameter, buffer, extra
state), shape and dtype. Where PML 2.9.0 has the class, PML's module is built with the same
arguments, fed the same batch, and both ``load_state_dict`` directions are *tried* (strict),
so the table says what actually loads, not what should.

A stateful class without an entry in ``BUILDS`` is an error (the docs build fails), so a new
loss with parameters cannot be missing from the table.

Run as a script to print both tables: ``python docs/_hooks/state_table.py``.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable

C, D = 3, 5  # num_classes, embedding_size of every build

# name -> (arguments as shown, builder of (ours, pml or None)); ``mod`` is
# agnostic_ml_torch.losses / .miners, ``pml`` pytorch_metric_learning.losses (or None).
Builder = Callable[[Any, Any, Any], tuple[Any, Any]]


def _same(name: str, *args: Any, **kwargs: Any) -> Builder:
    def build(losses: Any, miners: Any, pml: Any) -> tuple[Any, Any]:
        ours = getattr(losses, name)(*args, **kwargs)
        theirs = getattr(pml, name)(*args, **kwargs) if pml is not None else None
        return ours, theirs

    return build


def _cbm(losses: Any, miners: Any, pml: Any) -> tuple[Any, Any]:
    ours = losses.CrossBatchMemory(losses.ContrastiveLoss(), embedding_size=D, memory_size=8)
    theirs = pml.CrossBatchMemory(pml.ContrastiveLoss(), embedding_size=D, memory_size=8) if pml is not None else None
    return ours, theirs


def _miner(name: str, **kwargs: Any) -> Builder:
    def build(losses: Any, miners: Any, pml: Any) -> tuple[Any, Any]:
        kw = dict(kwargs)
        if "miner" in kw:
            kw["miner"] = miners.NHardTripletsMiner(1, 1)
        return getattr(miners, name)(**kw), None

    return build


#: class name -> (the constructor call shown in the table, builder)
BUILDS: dict[str, tuple[str, Builder]] = {
    "ArcFaceLoss": (f"ArcFaceLoss(num_classes={C}, embedding_size={D})", _same("ArcFaceLoss", num_classes=C, embedding_size=D)),
    "CosFaceLoss": (f"CosFaceLoss(num_classes={C}, embedding_size={D})", _same("CosFaceLoss", num_classes=C, embedding_size=D)),
    "LargeMarginSoftmaxLoss": (
        f"LargeMarginSoftmaxLoss(num_classes={C}, embedding_size={D})",
        _same("LargeMarginSoftmaxLoss", num_classes=C, embedding_size=D),
    ),
    "SphereFaceLoss": (f"SphereFaceLoss(num_classes={C}, embedding_size={D})", _same("SphereFaceLoss", num_classes=C, embedding_size=D)),
    "SubCenterArcFaceLoss": (
        f"SubCenterArcFaceLoss(num_classes={C}, embedding_size={D}, sub_centers=2)",
        _same("SubCenterArcFaceLoss", num_classes=C, embedding_size=D, sub_centers=2),
    ),
    "NormalizedSoftmaxLoss": (
        f"NormalizedSoftmaxLoss(num_classes={C}, embedding_size={D})",
        _same("NormalizedSoftmaxLoss", num_classes=C, embedding_size=D),
    ),
    "ProxyAnchorLoss": (f"ProxyAnchorLoss(num_classes={C}, embedding_size={D})", _same("ProxyAnchorLoss", num_classes=C, embedding_size=D)),
    "ProxyNCALoss": (f"ProxyNCALoss(num_classes={C}, embedding_size={D})", _same("ProxyNCALoss", num_classes=C, embedding_size=D)),
    "SoftTripleLoss": (
        f"SoftTripleLoss(num_classes={C}, embedding_size={D}, centers_per_class=2)",
        _same("SoftTripleLoss", num_classes=C, embedding_size=D, centers_per_class=2),
    ),
    "P2SGradLoss": (f"P2SGradLoss(descriptors_dim={D}, num_classes={C})", _same("P2SGradLoss", descriptors_dim=D, num_classes=C)),
    "ManifoldLoss": (f"ManifoldLoss(l={D}, K=4)", _same("ManifoldLoss", l=D, K=4)),
    "MarginLoss": (f"MarginLoss(learn_beta=True, num_classes={C})", _same("MarginLoss", learn_beta=True, num_classes=C)),
    "CrossBatchMemory": (f"CrossBatchMemory(ContrastiveLoss(), embedding_size={D}, memory_size=8)", _cbm),
    "DynamicSoftMarginLoss": ("DynamicSoftMarginLoss()", _same("DynamicSoftMarginLoss")),
    "TripletMinerWithMemory": ("TripletMinerWithMemory(bank_size_in_batches=2, tri_expand_k=2)", _miner("TripletMinerWithMemory", bank_size_in_batches=2, tri_expand_k=2, rng=0)),
    "MinerWithBank": ("MinerWithBank(bank_size_in_batches=2, miner=NHardTripletsMiner(1, 1))", _miner("MinerWithBank", bank_size_in_batches=2, miner=True)),
}


@dataclass
class Entry:
    key: str
    kind: str  # "parameter", "buffer", "extra state"
    shape: str
    dtype: str


@dataclass
class Row:
    name: str
    module: str  # "losses" or "miners"
    call: str
    entries: list[Entry] = field(default_factory=list)
    learnable: bool = False
    pml_to_ours: str = "not in PML"
    ours_to_pml: str = "not in PML"


def _stateful(cls: type) -> bool:
    return bool(getattr(cls, "_learnable", ()) or getattr(cls, "_state_arrays", ()) or getattr(cls, "_state_scalars", ()))


def _has_stateful_part(cls: type) -> bool:
    """Classes whose state lives in a sub-object they create: a core module that uses a memory bank."""
    import sys

    core = next((c for c in cls.__mro__ if c.__module__.startswith("agnostic_ml.")), None)
    mod = sys.modules.get(core.__module__) if core is not None else None
    return any(_stateful(v) for v in vars(mod).values() if inspect.isclass(v) and v is not core) if mod else False


def stateful_classes(losses: Any, miners: Any) -> list[tuple[str, str]]:
    out = []
    for mod_name, mod in (("losses", losses), ("miners", miners)):
        for name in mod.__all__:
            cls = getattr(mod, name)
            if not inspect.isclass(cls) or name.startswith("Base") or inspect.isabstract(cls):
                continue
            if _stateful(cls) or _has_stateful_part(cls):
                out.append((mod_name, name))
    return out


def _batch(torch: Any) -> tuple[Any, Any]:
    g = torch.Generator().manual_seed(0)
    return torch.randn(6, D, generator=g), torch.tensor([0, 1, 2, 0, 1, 2])


def _feed(obj: Any, name: str, x: Any, y: Any) -> None:
    """One batch where the state is created lazily (histogram, memory bank)."""
    if name == "DynamicSoftMarginLoss" or name in ("TripletMinerWithMemory", "MinerWithBank"):
        obj(x, y)


def _entries(module: Any) -> list[Entry]:
    import torch

    params = {k for k, _ in module.named_parameters()}
    out = []
    for k, v in module.state_dict().items():
        if k.endswith("_extra_state"):
            names = ", ".join(f"`{n}`" for n in v) if isinstance(v, dict) else type(v).__name__
            out.append(Entry(k, "extra state", names, ""))
        elif isinstance(v, torch.Tensor):
            out.append(Entry(k, "parameter" if k in params else "buffer", str(tuple(v.shape)), str(v.dtype).replace("torch.", "")))
    return out


def _try_load(dst: Any, src: Any) -> str:
    try:
        dst.load_state_dict(src.state_dict())
    except Exception as exc:  # noqa: BLE001 - the message is the table's content
        msg = str(exc).strip().splitlines()
        detail = next((m.strip() for m in msg[1:] if m.strip()), msg[0] if msg else type(exc).__name__)
        try:
            dst.load_state_dict(src.state_dict(), strict=False)
            return f"with `strict=False` ({detail.rstrip('.')})"
        except Exception:  # noqa: BLE001
            return f"fails: {detail}"
    return "yes"


def rows() -> tuple[list[Row], str]:
    """The table rows, and the PML version compared (or why none was)."""
    try:
        import torch

        from agnostic_ml_torch import losses, miners
    except ImportError as exc:
        return [], f"*Not generated*: the torch adapter could not be imported in this build ({type(exc).__name__}: {exc})."
    try:
        import pytorch_metric_learning
        from pytorch_metric_learning import losses as pml_losses

        pml_note = f"pytorch-metric-learning {pytorch_metric_learning.__version__}"
    except ImportError:
        pml_losses, pml_note = None, "PML is not installed in this build: the PML columns are empty"
    found = stateful_classes(losses, miners)
    missing = [n for _, n in found if n not in BUILDS]
    if missing:
        raise RuntimeError(f"state_table.BUILDS has no entry for the stateful class(es) {missing}; add one")
    out = []
    x, y = _batch(torch)
    for mod_name, name in found:
        call, build = BUILDS[name]
        pml_mod = pml_losses if (pml_losses is not None and mod_name == "losses" and hasattr(pml_losses, name)) else None
        def fresh() -> tuple[Any, Any]:  # each direction on new modules (loading changes the target)
            torch.manual_seed(0)
            ours, theirs = build(losses, miners, pml_mod)
            for obj in (ours, theirs):
                if obj is not None:
                    _feed(obj, name, x, y)
            return ours, theirs

        ours, theirs = fresh()
        row = Row(name, mod_name, call, _entries(ours), learnable=any(True for _ in ours.parameters()))
        if theirs is not None:
            row.pml_to_ours = _try_load(ours, theirs)
            ours, theirs = fresh()
            row.ours_to_pml = _try_load(theirs, ours)
        out.append(row)
    return out, pml_note


def _render(rs: list[Row], note: str, *, pml_columns: bool) -> str:
    if note.startswith("*Not generated*"):
        return note + "\n"
    head = ["class (as built here)", "`state_dict()` entries: name, kind, shape, dtype"]
    if pml_columns:
        head += ["PML's `state_dict` loads into ours", "ours loads into PML's"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rs:
        ents = "<br>".join(
            f"`{e.key}`: extra state ({e.shape})" if e.kind == "extra state" else f"`{e.key}`: {e.kind}, {e.shape}, {e.dtype}"
            for e in r.entries
        ) or "(empty)"
        cells = [f"`{r.call}`", ents]
        if pml_columns:
            cells += [r.pml_to_ours, r.ours_to_pml]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"Generated when the docs were built, by building each module and calling `load_state_dict` both ways (strict first); compared with {note}."]
    return "\n".join(lines) + "\n"


def render_parameters(data: tuple[list[Row], str] | None = None) -> str:
    """Classes with learnable parameters (the classification / proxy losses, MarginLoss)."""
    rs, note = data or rows()
    return _render([r for r in rs if r.learnable], note, pml_columns=True)


def render_state(data: tuple[list[Row], str] | None = None) -> str:
    """Classes with non-learnable state: queues, histograms, memory banks."""
    rs, note = data or rows()
    return _render([r for r in rs if not r.learnable], note, pml_columns=True)


if __name__ == "__main__":
    import os
    import sys

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.path[:0] = [root, os.path.join(root, "adapters")]
    data = rows()
    print(render_parameters(data))
    print(render_state(data))
