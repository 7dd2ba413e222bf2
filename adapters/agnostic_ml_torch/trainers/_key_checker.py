"""Validation of a trainer's dict arguments (PML's ``KeyChecker`` / ``KeyCheckerDict``).

A trainer describes, per dict argument (``models``, ``optimizers``, ``loss_funcs``,
``mining_funcs``, ``loss_weights``, ``lr_schedulers``, ``gradient_clippers``), which keys are
allowed (regular expressions), which are *essential* (missing: error) and which are
*important* (missing: a logged warning). Subclasses extend the schema in ``modify_schema``
exactly as in PML (``self.schema["models"].keys += ["classifier"]``).

Differences from PML (fixes):

- a bad or missing key raises ``ValueError`` naming the trainer, the argument, the key and
  the allowed keys (PML: a bare ``assert``, which ``python -O`` removes);
- patterns must match the whole key (PML's ``re.match`` accepts any key that merely
  *starts* with an allowed one, so ``"trunk_optimizerr"`` passed);
- a value that is not a dict raises ``TypeError``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import Any, Union

__all__ = ["KeyChecker", "KeyCheckerDict"]

LOGGER = logging.getLogger("agnostic_ml")

Keys = Union[list, Callable[["KeyChecker", dict], list]]


def default_important(checker: "KeyChecker", children: dict) -> list:
    """Every allowed key that is not essential (PML's default)."""
    keys = _resolve(checker.keys, checker, children)
    essential = _resolve(checker.essential, checker, children)
    return [k for k in keys if k not in essential]


def _resolve(value: Keys, checker: "KeyChecker", children: dict) -> list:
    return list(value(checker, children) if callable(value) else value)


def _matches(pattern: str, key: str) -> bool:
    return re.fullmatch(pattern, key) is not None


class KeyChecker:
    """The keys one dict argument may, should and must have.

    Parameters
    ----------
    keys : list of str, or callable ``(checker, children) -> list``
        Allowed keys (regular expressions matched against the whole key).
    warn_empty : bool
        Log a warning when the argument is None or empty.
    important : list or callable
        Keys whose absence is logged as a warning (default: allowed minus essential).
    essential : list or callable
        Keys that must be present (a pattern counts as present when some key matches it).

    Examples
    --------
    >>> schema = KeyCheckerDict({"models": KeyChecker(["trunk", "embedder"], essential=["trunk"])})
    >>> class T:
    ...     models = {"trunk": None, "embeder": None}
    >>> schema.verify(T())
    Traceback (most recent call last):
    ...
    ValueError: T: models has the key 'embeder', which is not allowed; allowed keys: trunk, embedder
    """

    def __init__(
        self,
        keys: Keys,
        warn_empty: bool = True,
        important: Keys = default_important,
        essential: Keys | None = None,
    ) -> None:
        self.keys = keys
        self.warn_empty = warn_empty
        self.important = important
        self.essential = [] if essential is None else essential


class KeyCheckerDict:
    """``{argument name: KeyChecker}``; :meth:`verify` checks an object's attributes of those names."""

    def __init__(self, children: dict[str, KeyChecker]) -> None:
        self.children = children

    def __getitem__(self, key: str) -> KeyChecker:
        return self.children[key]

    def __setitem__(self, key: str, value: KeyChecker) -> None:
        self.children[key] = value

    def verify(self, obj: Any) -> None:
        owner = type(obj).__name__
        for name, checker in self.children.items():
            self._verify_prop(getattr(obj, name, None), name, checker, owner)

    def _verify_prop(self, value: Any, name: str, checker: KeyChecker, owner: str) -> None:
        if checker.warn_empty and (value is None or (isinstance(value, Mapping) and len(value) == 0)):
            LOGGER.warning("%s: %s is empty", owner, name)
        if value is None:
            return
        if not isinstance(value, Mapping):
            raise TypeError(f"{owner}: {name} must be a dict, got {type(value).__name__}")
        keys = _resolve(checker.keys, checker, self.children)
        for k in value:
            if not isinstance(k, str) or not any(_matches(p, k) for p in keys):
                raise ValueError(
                    f"{owner}: {name} has the key {k!r}, which is not allowed; allowed keys: {', '.join(keys)}"
                )
        for k in _resolve(checker.important, checker, self.children):
            if not any(_matches(k, have) for have in value):
                LOGGER.warning('%s: %s is missing "%s"', owner, name, k)
        for k in _resolve(checker.essential, checker, self.children):
            if not any(_matches(k, have) for have in value):
                given = ", ".join(map(repr, value)) or "none"
                raise ValueError(f"{owner}: {name} must contain the key {k!r} (given: {given})")
