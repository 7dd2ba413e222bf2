"""Type aliases shared by the core: one place instead of one ``Array = Any`` per module.

The array API standard has no runtime array type to check against (each library has its
own), so these are documentation for readers and type checkers, not ``isinstance`` targets:

- ``Array``: an array of any supported namespace (NumPy, CuPy, torch, array-api-strict).
- ``Namespace``: a compat-wrapped array namespace (``array_api_compat.array_namespace(x)``).
- ``Device``: a device object of that namespace (compare with
  :func:`agnostic_ml._array_api.same_device`, never with ``==`` or in sets: CuPy devices
  are unhashable).
- ``RNG``: what every ``rng=`` argument accepts, normalised by
  :func:`agnostic_ml._random.as_generator`.
"""

from __future__ import annotations

from typing import Any, Union

import numpy as np

__all__ = ["Array", "Namespace", "Device", "RNG"]

Array = Any
Namespace = Any
Device = Any
RNG = Union[np.random.Generator, int, None]
