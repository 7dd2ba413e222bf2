"""What every sampler shares: labels on the host, grouping by label, seeds, argument checks.

Samplers run on the host (the DataLoader's main process), so labels are converted once to a
NumPy array; a CUDA tensor is copied to the CPU first. Randomness is NumPy's ``Generator``
seeded from a *base seed* and the epoch (:func:`epoch_rng`), so an epoch's draws are a pure
function of ``(base_seed, epoch)``: that is what makes the samplers reproducible and their
state (``state_dict``) a handful of integers.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

__all__ = [
    "LabelGroups",
    "check_int",
    "epoch_rng",
    "group_labels",
    "host_labels",
    "resolve_base_seed",
]

#: Base seeds are drawn in [0, 2**62): they fit an int64 and a NumPy SeedSequence.
_SEED_BOUND = 2**62


def host_labels(labels: Any, *, ndim: int = 1, name: str = "labels") -> np.ndarray:
    """``labels`` (list, NumPy array or tensor on any device) as a host NumPy array.

    Raises ``ValueError`` when it is empty or does not have ``ndim`` dimensions.
    """
    if isinstance(labels, torch.Tensor):
        arr = labels.detach().cpu().numpy()
    else:
        arr = np.asarray(labels)
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got an array of shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty: a sampler needs at least one labelled item")
    return arr


@dataclass(frozen=True, eq=False)
class LabelGroups:
    """Items grouped by label: class ``c`` owns ``members[starts[c] : starts[c] + sizes[c]]``.

    ``classes`` are the distinct labels in sorted order and ``inverse[i]`` is item ``i``'s
    class number.
    """

    classes: np.ndarray
    inverse: np.ndarray
    members: np.ndarray
    starts: np.ndarray
    sizes: np.ndarray

    @property
    def num_classes(self) -> int:
        return int(self.classes.shape[0])

    def items_of(self, c: int) -> np.ndarray:
        s = int(self.starts[c])
        return self.members[s : s + int(self.sizes[c])]


def group_labels(labels: np.ndarray) -> LabelGroups:
    """Group the items of a 1-D label array by label (a sort, no Python loop)."""
    classes, inverse = np.unique(labels, return_inverse=True)
    inverse = inverse.reshape(-1).astype(np.int64)
    members = np.argsort(inverse, kind="stable").astype(np.int64)
    sizes = np.bincount(inverse, minlength=classes.shape[0]).astype(np.int64)
    starts = np.concatenate([np.zeros(1, dtype=np.int64), np.cumsum(sizes)[:-1]])
    return LabelGroups(classes, inverse, members, starts, sizes)


def check_int(value: Any, name: str, minimum: int | None = None) -> int:
    """``value`` as an int; ``TypeError`` when not integral, ``ValueError`` below ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, float, np.floating)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if isinstance(value, (float, np.floating)) and not float(value).is_integer():
        raise TypeError(f"{name} must be an integer, got {value!r}")
    out = int(value)
    if minimum is not None and out < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {out}")
    return out


def resolve_base_seed(seed: Any = None, generator: Any = None) -> int:
    """The base seed of a sampler, drawn once at construction.

    - ``seed``: an int >= 0, used as is;
    - ``generator``: a ``torch.Generator`` or ``numpy.random.Generator``; one number is drawn
      from it;
    - neither: one number is drawn from torch's global generator, so ``torch.manual_seed``
      before constructing the sampler makes it reproducible (PML draws from NumPy's global
      state on every iteration instead).
    """
    if seed is not None and generator is not None:
        raise ValueError("pass seed or generator, not both")
    if seed is not None:
        return check_int(seed, "seed", minimum=0)
    if generator is None or isinstance(generator, torch.Generator):
        return int(torch.randint(0, _SEED_BOUND, (1,), generator=generator).item())
    if isinstance(generator, np.random.Generator):
        return int(generator.integers(0, _SEED_BOUND))
    raise TypeError(
        f"generator must be a torch.Generator or numpy.random.Generator, got {type(generator).__name__}"
    )


def epoch_rng(base_seed: int, epoch: int, stream: int = 0) -> np.random.Generator:
    """The NumPy generator of one epoch: a pure function of ``(base_seed, epoch, stream)``.

    ``stream`` separates independent uses of the same seed (e.g. draws made once at
    construction, stream 1, from the per-epoch draws, stream 0). SeedSequence mixes the
    words, so neighbouring seeds and epochs give unrelated streams (``seed + epoch``, as
    DistributedSampler does, would make seed 1 epoch 0 equal seed 0 epoch 1).
    """
    return np.random.default_rng(np.random.SeedSequence([int(base_seed), int(epoch), int(stream)]))
