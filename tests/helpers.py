"""Helpers shared by the test files: ``from helpers import assert_array, to_rows, ...``.

``tests/`` is on pytest's ``pythonpath`` (pyproject.toml), so this module and the
catalogue (``tests/catalogue/``) import the same way from every test folder. Nothing here
imports torch or PML; the PML-side helpers are in ``tests/pml/pml_helpers.py``.

- backends: :func:`assert_array` and :func:`backend_or_skip` (from the pytest plugin),
  :func:`cpu_backends`, :func:`tol`;
- miner outputs to host Python: :func:`to_lists`, :func:`to_rows`, :func:`to_set`,
  :func:`to_host`, :func:`rows`, :func:`rows_set`, and :func:`check_indices`;
- NumPy references: :func:`triplet_cube`, :func:`unit`, :func:`nhard_reference`;
- hypothesis: :func:`miner_batches_on`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from agnostic_ml.testing.backends import (
    BACKEND_NAMES,
    CPU_BACKEND_NAMES,
    Backend,
    BackendUnavailable,
    load_backend,
)
from agnostic_ml.testing.plugin import assert_array, backend_or_skip, required_backends

__all__ = [
    "BACKEND_NAMES",
    "CPU_BACKEND_NAMES",
    "Backend",
    "assert_array",
    "backend_or_skip",
    "check_indices",
    "cpu_backends",
    "miner_batches_on",
    "nhard_reference",
    "rows",
    "rows_set",
    "to_host",
    "to_lists",
    "to_rows",
    "to_set",
    "tol",
    "triplet_cube",
    "unit",
]


# -- backends ------------------------------------------------------------------------------


def tol(dtype: Any, xp: Any) -> dict[str, float]:
    """``rtol`` / ``atol`` for comparing results of ``dtype`` (float64 or lower)."""
    if dtype == xp.float64:
        return {"rtol": 1e-9, "atol": 1e-9}
    return {"rtol": 1e-4, "atol": 1e-5}


def cpu_backends() -> list[Backend]:
    """The CPU backends installed here, built once (e.g. at module level, for hypothesis).

    A backend named in ``AGNOSTIC_ML_TEST_BACKENDS`` that is missing raises instead of
    being left out, as the ``backend`` fixture fails instead of skipping.
    """
    required = required_backends()
    out = []
    for name in CPU_BACKEND_NAMES:
        try:
            out.append(load_backend(name))
        except BackendUnavailable:
            if name in required:
                raise
    return out


# -- miner outputs on the host ---------------------------------------------------------------


def to_lists(backend: Backend, out: tuple) -> list[list[int]]:
    """Each output array as a list of ints: ``[[a...], [p...], ...]``."""
    return [backend.to_numpy(x).astype(np.int64).tolist() for x in out]


def to_rows(backend: Backend, out: tuple) -> list[tuple[int, ...]]:
    """The tuples in order: ``[(a, p, n), ...]`` (or ``(a1, p, a2, n)`` for equal-length pairs)."""
    return list(zip(*(backend.to_numpy(x).tolist() for x in out)))


def to_set(backend: Backend, out: tuple) -> set[tuple[int, ...]]:
    """The tuples as a set."""
    return set(to_rows(backend, out))


def to_host(backend: Backend, out: tuple) -> tuple[np.ndarray, ...]:
    """Each output array as an int64 NumPy array."""
    return tuple(np.asarray(backend.to_numpy(x)).astype(np.int64) for x in out)


def rows(t: tuple) -> list[tuple[int, ...]]:
    """Host arrays ``(a, p, n)`` -> ``[(a0, p0, n0), ...]``."""
    return list(zip(*(x.tolist() for x in t)))


def rows_set(out: tuple) -> set[tuple[int, ...]]:
    """Any arrays with ``tolist`` (NumPy, torch CPU) -> the set of their tuples."""
    return set(zip(*(np.asarray(t.tolist() if hasattr(t, "tolist") else t).tolist() for t in out)))


def check_indices(backend: Backend, out: Any, k: int = 3, n: int | None = None) -> None:
    """A miner's output: a ``k``-tuple of 1-D int64 arrays of ``backend`` with matching
    lengths (``a == p == n``, or ``a1 == p`` and ``a2 == n``), ``n`` tuples when given."""
    assert isinstance(out, tuple) and len(out) == k, f"expected a {k}-tuple, got {type(out).__name__} of {len(out)}"
    for x in out:
        assert_array(x, backend, dtype=backend.xp.int64)
        assert x.ndim == 1
    if k == 3:
        assert out[0].shape[0] == out[1].shape[0] == out[2].shape[0]
    else:
        assert out[0].shape[0] == out[1].shape[0] and out[2].shape[0] == out[3].shape[0]
    if n is not None:
        assert out[0].shape[0] == n


# -- NumPy references --------------------------------------------------------------------------


def triplet_cube(lab: np.ndarray, rlab: np.ndarray, self_ref: bool) -> tuple[np.ndarray, ...]:
    """Every valid triplet ``(a, p, n)``, lexicographic (a brute-force ``N x R x R`` cube:
    for the small N of the tests only). ``self_ref``: no reference set, so ``p != a``."""
    pos = lab[:, None] == rlab[None, :]
    neg = ~pos
    if self_ref:
        np.fill_diagonal(pos, False)
    return np.nonzero(pos[:, :, None] & neg[:, None, :])


def unit(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm."""
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def nhard_reference(dist, labels, ref_labels, pos_slice, neg_slice, exclude_self) -> list[tuple[int, int, int]]:
    """OML's ``_sample_from_distmat`` as a loop: per anchor, positives by decreasing and
    negatives by increasing distance (ties: lower index first), then the cartesian
    product of the two slices."""
    out = []
    for a in range(dist.shape[0]):
        pos = [j for j in range(dist.shape[1]) if ref_labels[j] == labels[a] and not (exclude_self and j == a)]
        neg = [j for j in range(dist.shape[1]) if ref_labels[j] != labels[a]]
        pos = sorted(pos, key=lambda j: (-dist[a, j], j))[slice(*pos_slice)]
        neg = sorted(neg, key=lambda j: (dist[a, j], j))[slice(*neg_slice)]
        out += [(a, p, n) for p in pos for n in neg]
    return out


# -- hypothesis --------------------------------------------------------------------------------


def miner_batches_on(backend: Backend, **kwargs: Any) -> Any:
    """:func:`agnostic_ml.testing.strategies.miner_batches` on ``backend``'s namespace and device."""
    from agnostic_ml.testing.strategies import miner_batches

    return miner_batches(xp=backend.xp, device=backend.device, **kwargs)


def run_cli(capsys: Any, argv: list[str]) -> tuple[int, str, str]:
    """Run ``agnostic-ml argv`` in-process: ``(exit code, stdout, stderr)``."""
    from agnostic_ml.cli import main

    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def sigkill_when_writing(proc: Any, marker: str = "writing", *, delay: float = 0.05) -> None:
    """Wait for ``proc`` to print ``marker`` on stdout, then SIGKILL it mid-write (and reap it)."""
    import signal
    import time

    import pytest

    try:
        for line in proc.stdout:
            if line.strip() == marker:
                break
        else:
            err = proc.stderr.read() if proc.stderr is not None else ""
            pytest.fail(f"the child never printed {marker!r}: {err}")
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
