"""The docstring examples of the adapter's workflow modules run (CI's ``--doctest-modules``
covers ``agnostic_ml`` and ``tests``, not the ``adapters`` source folder)."""

from __future__ import annotations

import doctest
import importlib

import pytest

pytest.importorskip("torch")

MODULES = [
    "agnostic_ml_torch._checkpoint",
    "agnostic_ml_torch.inference",
    "agnostic_ml_torch.testers.global_embedding_space",
    "agnostic_ml_torch.testers.visualization",
    "agnostic_ml_torch.utils.accuracy_calculator",
    "agnostic_ml_torch.utils.common_functions",
    "agnostic_ml_torch.utils.loss_and_miner_utils",
    "agnostic_ml_torch.utils.record_keeper",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    if name.endswith("visualization"):
        pytest.importorskip("matplotlib")
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {name} failed (see the output above)"
