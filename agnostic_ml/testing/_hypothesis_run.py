"""Running a kit's hypothesis test and getting its own failure back, also when it is flaky.

Used by :func:`~agnostic_ml.testing.property_test_miner` and
:func:`~agnostic_ml.testing.property_test_loss`.
"""

from __future__ import annotations

from typing import Callable, TypeVar

from hypothesis.errors import FlakyFailure

E = TypeVar("E", bound=BaseException)

FLAKY_NOTE = (
    "(hypothesis saw this failure once and not when it called again with the same batch: the "
    "output differs between identical calls, which is itself the bug when the check is about "
    "determinism)"
)


def run_for_failure(test: Callable[[], None], kind: type[E]) -> E | None:
    """Run ``test()``; return its ``kind`` failure (None when it passes).

    A failure that hypothesis cannot reproduce raises ``FlakyFailure`` (an exception group):
    the first ``kind`` inside it is returned, with :data:`FLAKY_NOTE` appended to its message,
    rather than hypothesis's group. Anything else propagates.
    """
    try:
        test()
    except FlakyFailure as group:
        inner = next((e for e in group.exceptions if isinstance(e, kind)), None)
        if inner is None:
            raise
        if inner.args and isinstance(inner.args[0], str):
            inner.args = (f"{inner.args[0]}\n{FLAKY_NOTE}", *inner.args[1:])
        return inner
    except kind as exc:
        return exc
    return None
