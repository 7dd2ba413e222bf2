"""The epoch/position bookkeeping every sampler shares: ``set_epoch``, ``state_dict``, resume.

A sampler's epoch is a *plan*: a sequence of units (indices, or batches of indices for a
batch sampler) that is a pure function of ``(base_seed, epoch)``. Iterating yields the plan
from the current *position*; the position advances as units are handed out, and after the
last unit of an epoch the sampler moves on to position 0 of the next epoch.

Rules (the same for every sampler here):

- **An iteration that stops early is continued by the next one.** ``iter(sampler)`` goes on
  from the current position until the epoch ends; it never silently restarts or skips. This
  makes a resumed run behave exactly like an uninterrupted one, whatever the training loop
  does between iterators.
- ``set_epoch(e)`` jumps to position 0 of epoch ``e``; with the current epoch it does
  nothing, so a resumed loop that calls it at the top of every epoch (as DDP code does) keeps
  the restored position.
- ``state_dict()`` is ``{"base_seed", "epoch", "position", "num_units", "kind"}`` (plain
  Python ints and strings: it loads with ``torch.load(..., weights_only=True)``);
  ``load_state_dict`` restores it into a sampler built with the same arguments, and checks
  ``num_units`` and ``kind`` so that a state cannot be loaded into a different sampler.
- **Position counts units handed out by the sampler.** A DataLoader with ``num_workers > 0``
  fetches ``prefetch_factor * num_workers`` batches ahead, so after ``k`` consumed batches
  the sampler's position is ahead by what was prefetched; a trainer that wants an exact
  resume stores ``state_dict()`` with ``position`` set to what it consumed (for a sampler of
  indices, ``k * batch_size``; for a batch sampler, ``k``), which ``load_state_dict``
  accepts.
- One live iterator at a time: starting a new one takes over, and an older iterator keeps
  yielding its own plan without moving the sampler's position.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from torch.utils.data import Sampler

from ._common import check_int, epoch_rng, resolve_base_seed

__all__ = ["ResumableSampler"]


class ResumableSampler(Sampler):
    """Base of the samplers: a plan per epoch, a position in it, and its state.

    Subclasses implement :meth:`_build_plan` (a list of units from a NumPy generator) and
    :meth:`_num_units` (the plan's length, known without drawing), and may override
    :meth:`_after_base_seed` (draws made once per base seed) and the ``_extra_state`` pair.
    """

    #: Whether iteration yields whole batches (lists of indices, for ``DataLoader(batch_sampler=...)``).
    yields_batches = False

    #: ``kind`` recorded in the state, so a state only loads into the same sampler class.
    _kind = "sampler"

    def __init__(self, seed: Any = None, generator: Any = None) -> None:
        super().__init__()
        self._base_seed = resolve_base_seed(seed, generator)
        self.epoch = 0
        self._position = 0
        self._token = 0
        self._cache: tuple[tuple[int, int], list[Any]] | None = None

    # -- what a subclass provides -------------------------------------------------------
    def _build_plan(self, rng: Any) -> list[Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _num_units(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def _after_base_seed(self) -> None:
        """Recompute what is drawn once per base seed (called after a state is loaded)."""

    def _extra_state(self) -> dict[str, Any]:
        return {}

    def _load_extra_state(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`_extra_state` saved."""

    # -- the sampler protocol -----------------------------------------------------------
    def __len__(self) -> int:
        return self._num_units()

    def __iter__(self) -> Iterator[Any]:
        self._token += 1
        return self._iterate(self._token)

    def _iterate(self, token: int) -> Iterator[Any]:
        n = self._num_units()
        if self._position >= n:  # a state saved at the very end of an epoch
            self._advance_epoch()
        plan = self._plan()
        for p in range(self._position, n):
            unit = plan[p]
            if token == self._token:
                self._position = p + 1
                if p + 1 == n:
                    self._advance_epoch()
            yield unit

    def _advance_epoch(self) -> None:
        self.epoch += 1
        self._position = 0
        self._cache = None

    def _plan(self) -> list[Any]:
        key = (self._base_seed, self.epoch)
        if self._cache is None or self._cache[0] != key:
            plan = self._build_plan(epoch_rng(self._base_seed, self.epoch))
            if len(plan) != self._num_units():  # pragma: no cover - an internal invariant
                raise RuntimeError(f"{type(self).__name__} planned {len(plan)} units, expected {self._num_units()}")
            self._cache = (key, plan)
        return self._cache[1]

    # -- epochs and state ---------------------------------------------------------------
    @property
    def position(self) -> int:
        """How many units of the current epoch have been handed out."""
        return self._position

    def set_epoch(self, epoch: int) -> None:
        """Start epoch ``epoch`` at its first unit (a no-op when it is the current epoch).

        As ``DistributedSampler.set_epoch``: every rank that sets the same epoch (with the
        same seed) draws the same global batches. Unlike it, epochs also advance by
        themselves after a full pass, so calling it is optional.
        """
        epoch = check_int(epoch, "epoch", minimum=0)
        if epoch != self.epoch:
            self.epoch = epoch
            self._position = 0
            self._cache = None
            self._token += 1  # a live iterator of the old epoch no longer moves the position

    def state_dict(self) -> dict[str, Any]:
        """The base seed, epoch and position (plain ints): enough to continue exactly."""
        state = {
            "kind": self._kind,
            "base_seed": self._base_seed,
            "epoch": self.epoch,
            "position": self._position,
            "num_units": self._num_units(),
        }
        state.update(self._extra_state())
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue from ``state`` (from :meth:`state_dict` of a sampler with the same arguments)."""
        if not isinstance(state, Mapping):
            raise TypeError(f"state must be a mapping from state_dict(), got {type(state).__name__}")
        missing = {"kind", "base_seed", "epoch", "position", "num_units"} - set(state)
        if missing:
            raise ValueError(f"state lacks the keys {sorted(missing)}; pass what state_dict() returned")
        if state["kind"] != self._kind:
            raise ValueError(f"state is from a {state['kind']!r} sampler, this is a {self._kind!r} one")
        n = self._num_units()
        if int(state["num_units"]) != n:
            raise ValueError(
                f"state is from a sampler whose epoch has {int(state['num_units'])} units, this one has {n}: "
                "build the sampler with the same labels and arguments before loading"
            )
        position = check_int(state["position"], "state['position']", minimum=0)
        if position > n:
            raise ValueError(f"state['position'] = {position} exceeds the epoch's {n} units")
        self._base_seed = check_int(state["base_seed"], "state['base_seed']", minimum=0)
        self.epoch = check_int(state["epoch"], "state['epoch']", minimum=0)
        self._position = position
        self._cache = None
        self._token += 1
        self._after_base_seed()
        self._load_extra_state(state)
