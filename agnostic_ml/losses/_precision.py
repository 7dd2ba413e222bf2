"""The precision loss formulas compute in: float16/bfloat16 values are upcast to float32.

Pair losses exponentiate large values (CircleLoss's ``gamma = 80``, MultiSimilarity's
``beta = 50``, NTXent/SupCon's ``1 / temperature``). Their log-sum-exps are shifted, so
nothing overflows in any dtype, but a half-precision exponent of ~100 has an absolute error
of ~0.5 (a factor 1.6 after ``exp``); so the formulas work in float32 at least. The cast is
out of place and differentiable; float32/float64 inputs are returned as they are.
"""

from __future__ import annotations

from typing import Any

from .._array_api import floating_work_dtype, namespace_and_device

Array = Any


def at_least_float32(x: Array) -> Array:
    """``x`` in float32 if it is float16/bfloat16, else ``x`` itself.

    >>> import numpy as np
    >>> at_least_float32(np.zeros(2, dtype=np.float16)).dtype, at_least_float32(np.zeros(2)).dtype
    (dtype('float32'), dtype('float64'))
    """
    xp, _ = namespace_and_device(x)
    work = floating_work_dtype(x.dtype, xp)
    return x if x.dtype == work else xp.astype(x, work)
