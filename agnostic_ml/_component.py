"""The root of every configurable core class, cooperative with ``torch.nn.Module``.

Distances, miners, reducers, regularizers and losses are plain Python objects in the core.
The torch adapter turns each of them into an ``nn.Module`` by inheriting from the core class
*and* ``nn.Module`` (``agnostic_ml_torch._shell``). That only works if the core classes follow
four rules, which this root class encodes:

1. ``__init__`` calls ``super().__init__()`` first and with no arguments, so that
   ``nn.Module.__init__`` runs before any attribute is assigned (an ``nn.Module`` refuses
   submodules and parameters assigned before it).
2. Calling the object runs :meth:`forward`. The core's ``__call__`` defers to the next
   ``__call__`` in the MRO when there is one (``nn.Module.__call__``, which runs the hooks and
   then ``forward``), so forward hooks fire; there is no ``forward = __call__`` alias.
3. Any ``__getattr__`` defers to ``super().__getattr__`` first (``nn.Module`` keeps its
   parameters, buffers and submodules there), see :func:`next_getattr`.
4. No ``__eq__``: equal configurations must stay distinct objects with identity hashes
   (``nn.Module.named_parameters`` deduplicates by hash).

State that belongs in a ``state_dict`` (memory banks, queues) is declared per class in
``_state_arrays`` (arrays, possibly ``None`` until the first batch) and ``_state_scalars``
(Python ints, floats and bools); the shell registers the arrays as buffers and saves the
scalars as extra state. Learnable arrays are created with :meth:`Component.new_parameter`,
which the shell overrides to make ``torch.nn.Parameter`` objects.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from ._random import as_generator

__all__ = ["Component", "next_getattr", "PARAMETER_INITS"]


def next_getattr(obj: Any, cls: type, name: str) -> Any:
    """``super(cls, obj).__getattr__(name)`` if the MRO after ``cls`` has one, else ``AttributeError``.

    ``object`` has no ``__getattr__``; ``nn.Module`` has one that serves parameters, buffers
    and submodules. A core ``__getattr__`` calls this first so a shell keeps working.
    """
    nxt = getattr(super(cls, obj), "__getattr__", None)
    if nxt is None:
        raise AttributeError(f"{type(obj).__name__!s} object has no attribute {name!r}")
    return nxt(name)


def _normal(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    return rng.standard_normal(shape)


def _fans(shape: tuple[int, ...]) -> tuple[int, int]:
    # torch.nn.init._calculate_fan_in_and_fan_out for a 2-D (out, in) tensor.
    fan_out, fan_in = shape[0], int(np.prod(shape[1:])) if len(shape) > 1 else 1
    return fan_in, fan_out


def _kaiming_normal_fan_out(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    _, fan_out = _fans(shape)
    return rng.standard_normal(shape) * (math.sqrt(2.0) / math.sqrt(fan_out))


def _kaiming_uniform_a_sqrt5(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    fan_in, _ = _fans(shape)
    bound = math.sqrt(2.0 / 6.0) * math.sqrt(3.0 / fan_in)  # gain(leaky_relu, a=sqrt 5) * sqrt(3 / fan_in)
    return rng.uniform(-bound, bound, size=shape)


def _xavier_normal(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    fan_in, fan_out = _fans(shape)
    return rng.standard_normal(shape) * math.sqrt(2.0 / (fan_in + fan_out))


def _uniform_pm1(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(-1.0, 1.0, size=shape)


#: Named initialisations of learnable arrays: the core draws them with NumPy, the torch
#: adapter maps each name to the ``torch.nn.init`` function PML uses.
PARAMETER_INITS: dict[str, Callable[[tuple[int, ...], np.random.Generator], np.ndarray]] = {
    "normal": _normal,  # torch.nn.init.normal_ (PML's default weight_init_func)
    "kaiming_normal_fan_out": _kaiming_normal_fan_out,  # ProxyAnchorLoss
    "kaiming_uniform_a_sqrt5": _kaiming_uniform_a_sqrt5,  # SoftTripleLoss, nn.Linear's default
    "xavier_normal": _xavier_normal,
    "uniform_pm1": _uniform_pm1,
}


class Component:
    """Root of the core's configurable classes; see the module docstring for its four rules.

    ``obj(*args, **kwargs)`` runs ``obj.forward(*args, **kwargs)``.
    """

    #: Names of array attributes that are state (saved by the adapter's ``state_dict``).
    _state_arrays: tuple[str, ...] = ()
    #: Names of scalar attributes that are state (saved as the module's extra state).
    _state_scalars: tuple[str, ...] = ()
    #: Names of learnable array attributes (made by :meth:`new_parameter`).
    _learnable: tuple[str, ...] = ()

    def __init__(self) -> None:
        super().__init__()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # Cooperative: with nn.Module later in the MRO (``class X(CoreClass, nn.Module)``),
        # its __call__ runs the hooks and then forward; a plain core object calls forward.
        nxt = getattr(super(), "__call__", None)
        if nxt is not None:
            return nxt(*args, **kwargs)
        return self.forward(*args, **kwargs)

    def forward(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} does not implement forward")

    def new_parameter(
        self,
        shape: tuple[int, ...],
        init: str | Callable[[Any], Any] = "normal",
        *,
        rng: Any = None,
        value: float | None = None,
    ) -> Any:
        """A learnable array of ``shape`` (float32), initialised by ``init`` or filled with ``value``.

        In the core this is a NumPy array drawn from ``rng`` (a ``numpy.random.Generator``,
        an int seed or None); the array follows the embeddings' namespace and device when a
        formula uses it. ``init`` is a name of :data:`PARAMETER_INITS` or a callable that
        initialises the array in place (PML's ``weight_init_func``). The torch adapter
        overrides this method to return a ``torch.nn.Parameter`` initialised by the matching
        ``torch.nn.init`` function (torch's global generator, as in PML).
        """
        shape = tuple(int(s) for s in shape)
        if value is not None:
            return np.full(shape, value, dtype=np.float32)
        if callable(init):
            arr = np.zeros(shape, dtype=np.float32)
            out = init(arr)
            return arr if out is None else np.asarray(out, dtype=np.float32)
        if init not in PARAMETER_INITS:
            raise ValueError(f"init must be one of {sorted(PARAMETER_INITS)} or a callable, got {init!r}")
        gen = as_generator(rng)
        return PARAMETER_INITS[init](shape, gen).astype(np.float32)

    def new_state_array(self, shape: tuple[int, ...], kind: str = "float") -> Any:
        """A zero-filled state array (``kind`` "float": float32, "int": int64), e.g. a memory queue.

        In the core a NumPy array, which follows the embeddings' namespace and device on
        first use; the torch adapter overrides this to make a CPU tensor (PML's buffers),
        which its owner registers with :meth:`set_state`.
        """
        if kind not in ("float", "int"):
            raise ValueError(f"kind must be 'float' or 'int', got {kind!r}")
        return np.zeros(tuple(int(s) for s in shape), dtype=np.float32 if kind == "float" else np.int64)

    def set_state(self, name: str, value: Any) -> None:
        """Assign a state array (declared in ``_state_arrays``); the adapter registers it as a buffer."""
        setattr(self, name, value)

    def after_state_load(self) -> None:
        """Called by the adapter after ``load_state_dict``: rebuild what derives from the state."""
