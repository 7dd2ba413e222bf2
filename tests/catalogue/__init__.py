"""Test catalogues: one entry per configuration of a component, read by the generic tests.

A catalogue is the one place a component is registered for testing. The generic tests
(contract, property and PML-differential) parametrise over it and read each entry's
flags to know what to expect, so adding a component means adding an entry here plus
the tests that are specific to it (its own hand-checked examples and selection rule).

- :class:`Entry`: what every entry has (``id``, ``factory``, ``pml``). A kind of
  component subclasses it with its own flags (:class:`catalogue.miners.MinerEntry`; a
  ``LossEntry`` sits beside it in ``catalogue/losses.py`` the same way).
- :class:`Catalogue`: an ordered, id-unique collection of entries, filtered by flag
  (``MINERS.where(kind="pairs")``) and turned into pytest parameters
  (``@MINERS.parametrize()``).
- :class:`PML`: a lazy reference to the equivalent PML object, so that this module
  (and the core tests that import it) never import torch or PML.

Entries compare and hash by identity (``eq=False``): two entries with equal settings are
still two configurations, and a ``PML`` holds unhashable keyword arguments.

Example
-------
>>> from catalogue.miners import MINERS
>>> MINERS["batch_hard"].kind
'triplets'
>>> "pair_margin" in MINERS.where(kind="pairs").ids()
True
"""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Iterator, TypeVar

import pytest

__all__ = ["PML", "Catalogue", "Entry"]


@dataclass(frozen=True, eq=False)
class PML:
    """The PML counterpart of an entry, built only when a PML test asks for it.

    ``PML("miners.PairMarginMiner", 0.5, 0.3)`` names a class relative to
    ``pytorch_metric_learning`` and the positional / keyword arguments that configure it
    like our entry. Calling it imports PML, merges ``overrides`` (the PML tests pass
    ``distance=`` a PML distance that returns our matrix) and builds the object.

    >>> PML("miners.BatchHardMiner").path
    'miners.BatchHardMiner'
    """

    path: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)

    def __init__(self, path: str, *args: Any, **kwargs: Any) -> None:
        object.__setattr__(self, "path", path)
        object.__setattr__(self, "args", args)
        object.__setattr__(self, "kwargs", kwargs)

    def resolve(self) -> type:
        module, _, name = f"pytorch_metric_learning.{self.path}".rpartition(".")
        return getattr(importlib.import_module(module), name)

    def __call__(self, **overrides: Any) -> Any:
        return self.resolve()(*self.args, **{**self.kwargs, **overrides})


@dataclass(frozen=True, eq=False)
class Entry:
    """One configuration of a component.

    Parameters
    ----------
    id : str
        The pytest id of the entry (unique in its catalogue).
    factory : callable
        No arguments; returns a fresh object on every call (entries with state, such as
        memory banks or generators, must not share it between tests).
    pml : PML or None
        The PML object configured the same way, when PML has it and its outputs are
        expected to equal ours (the generic PML tests compare them); None otherwise, in
        which case the component's own ``tests/pml/`` file says why, if there is one.
    """

    id: str
    factory: Callable[[], Any]
    pml: PML | None = None

    def make(self) -> Any:
        return self.factory()

    def param(self) -> Any:
        return pytest.param(self, id=self.id)


E = TypeVar("E", bound=Entry)


class Catalogue(Generic[E]):
    """An ordered collection of entries with unique ids.

    ``where(**flags)`` keeps the entries whose attributes equal the given values (a
    callable value is a predicate on the attribute); ``parametrize(argname)`` is a pytest
    mark over the entries, with their ids.
    """

    def __init__(self, entries: Any) -> None:
        self._entries: tuple[E, ...] = tuple(entries)
        ids = [e.id for e in self._entries]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"catalogue ids must be unique, repeated: {dup}")

    def __iter__(self) -> Iterator[E]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, id: object) -> bool:
        return any(e.id == id for e in self._entries)

    def __getitem__(self, id: str) -> E:
        for e in self._entries:
            if e.id == id:
                return e
        raise KeyError(f"no entry {id!r}; known: {self.ids()}")

    def __repr__(self) -> str:
        return f"Catalogue({self.ids()})"

    def ids(self) -> list[str]:
        return [e.id for e in self._entries]

    def where(self, **flags: Any) -> Catalogue[E]:
        if self._entries:
            known = {f.name for f in dataclasses.fields(self._entries[0])}
            unknown = sorted(set(flags) - known)
            if unknown:
                raise TypeError(f"unknown entry field(s) {unknown}; fields: {sorted(known)}")

        def keep(e: E) -> bool:
            for name, want in flags.items():
                got = getattr(e, name)
                if not (want(got) if callable(want) else got == want):
                    return False
            return True

        return Catalogue(e for e in self._entries if keep(e))

    def params(self) -> list[Any]:
        return [e.param() for e in self._entries]

    def parametrize(self, argname: str = "entry") -> Any:
        return pytest.mark.parametrize(argname, self.params())
