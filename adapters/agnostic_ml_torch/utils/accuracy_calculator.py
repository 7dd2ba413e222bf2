"""PML's ``utils.accuracy_calculator`` path: the exact, faiss-free ``AccuracyCalculator``.

``from pytorch_metric_learning.utils.accuracy_calculator import AccuracyCalculator`` becomes
``from agnostic_ml_torch.utils.accuracy_calculator import AccuracyCalculator``; the class is
:class:`agnostic_ml.accuracy.AccuracyCalculator` (same constructor, ``get_accuracy`` and
results as PML 2.9; see its docstring for the bugs it fixes). It accepts torch tensors on
any device and returns Python floats.

>>> import torch
>>> from agnostic_ml_torch.utils.accuracy_calculator import AccuracyCalculator
>>> AccuracyCalculator(include=("precision_at_1",)).get_accuracy(torch.tensor([[0.0], [0.1], [5.0], [5.1]]), torch.tensor([0, 0, 1, 1]))
{'precision_at_1': 1.0}
"""

from agnostic_ml.accuracy import AccuracyCalculator

__all__ = ["AccuracyCalculator"]
