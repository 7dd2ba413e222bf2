"""Which path a pair loss takes: its fast matrix form, or PML's ``_compute_loss`` hook."""

from __future__ import annotations

from typing import Any


def overrides(obj: Any, owner: type, name: str) -> bool:
    """True if ``type(obj)`` (a subclass of ``owner``) redefines ``owner``'s method ``name``.

    Pair losses whose formula has a faster form on the distance matrix use it unless a user
    subclass overrides PML's hook (``_compute_loss``): then the hook is called exactly as
    PML calls it, so the subclass keeps working.
    """
    return getattr(type(obj), name) is not getattr(owner, name)
