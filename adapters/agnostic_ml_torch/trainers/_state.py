"""Random-number state as plain containers, so that a trainer's state loads with ``weights_only=True``.

``torch.load(..., weights_only=True)`` accepts tensors, dicts, lists, tuples, ints, floats,
strings, bools and None. NumPy's and Python's generator states contain NumPy arrays and long
tuples, so they are stored here as int64 tensors plus scalars, and decoded back exactly.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

__all__ = [
    "capture_rng_state",
    "restore_rng_state",
    "generator_state",
    "set_generator_state",
    "derived_generator",
    "seed_everything",
]


def _encode(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return {"__ndarray__": torch.from_numpy(value.astype(np.int64)), "dtype": str(value.dtype)}
    if isinstance(value, Mapping):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, Mapping):
        if "__ndarray__" in value:
            return value["__ndarray__"].numpy().astype(value["dtype"])
        return {k: _decode(v) for k, v in value.items()}
    return value


def generator_state(gen: np.random.Generator) -> dict[str, Any]:
    """The state of a NumPy ``Generator`` as plain containers (``set_generator_state`` restores it)."""
    return _encode(gen.bit_generator.state)


def set_generator_state(gen: np.random.Generator, state: Mapping[str, Any]) -> None:
    """Restore what :func:`generator_state` returned (the bit generator kinds must agree)."""
    decoded = _decode(state)
    kind = type(gen.bit_generator).__name__
    if decoded.get("bit_generator") != kind:
        raise ValueError(f"the saved generator state is a {decoded.get('bit_generator')!r} one, this generator is {kind!r}")
    gen.bit_generator.state = decoded


def derived_generator(seed: int, name: str) -> np.random.Generator:
    """A NumPy generator determined by ``(seed, name)`` (independent streams for different names)."""
    return np.random.default_rng([int(seed), zlib.crc32(name.encode("utf-8"))])


def capture_rng_state() -> dict[str, Any]:
    """torch (CPU and every initialised CUDA device), NumPy's global and Python's ``random`` states."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": str(kind),
            "keys": torch.from_numpy(np.asarray(keys).astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "python": {"version": int(version), "state": torch.tensor(internal, dtype=torch.int64), "gauss_next": gauss_next},
        "cuda": [],
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = list(torch.cuda.get_rng_state_all())
    return state


def restore_rng_state(state: Mapping[str, Any]) -> None:
    """Restore what :func:`capture_rng_state` returned."""
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(
        (n["kind"], n["keys"].numpy().astype(np.uint32), int(n["pos"]), int(n["has_gauss"]), float(n["cached_gaussian"]))
    )
    p = state["python"]
    random.setstate((int(p["version"]), tuple(int(v) for v in p["state"].tolist()), p["gauss_next"]))
    cuda = list(state.get("cuda", []))
    if cuda:
        if torch.cuda.is_available() and torch.cuda.device_count() >= len(cuda):
            torch.cuda.set_rng_state_all(cuda)
        else:
            import warnings

            warnings.warn(
                f"the state holds the RNG states of {len(cuda)} CUDA devices, which this process does not have; "
                "they are not restored, so CUDA random draws will differ from the saved run",
                RuntimeWarning,
                stacklevel=3,
            )


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and torch (CPU and CUDA).

    Examples
    --------
    >>> seed_everything(0); a = torch.rand(2)
    >>> seed_everything(0); bool(torch.equal(a, torch.rand(2)))
    True
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(int(seed))
    np.random.seed(int(seed) % 2**32)
    torch.manual_seed(int(seed))
