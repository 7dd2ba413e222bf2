"""Checks of the embeddings given to the kNN search and to ``AccuracyCalculator.get_accuracy``.

Shared by the in-memory and the Dask paths, so that both raise the same errors.
"""

from __future__ import annotations

from typing import Any

from .._array_api import same_device
from ._backend_extras import device_of

__all__ = ["PREFIX_MISMATCH", "check_accuracy_shapes", "check_features", "check_same_device"]

Array = Any

#: PML's message when ``ref_includes_query`` is set but the reference does not start with the queries.
PREFIX_MISMATCH = (
    "When ref_includes_query is True, the first len(query) elements of reference must be "
    "equal to query, and the first len(query_labels) elements of reference_labels must "
    "be equal to query_labels."
)


def check_same_device(reference: Array, device: Any) -> None:
    """``ValueError`` unless ``reference`` is on the query's ``device``."""
    if not same_device(device_of(reference), device):
        raise ValueError(f"reference is on device {device_of(reference)} but query is on {device}")


def check_features(query: Array, reference: Array) -> None:
    """``ValueError`` unless both 2-D sets have the same number of features."""
    if reference.shape[1] != query.shape[1]:
        raise ValueError(f"reference has {reference.shape[1]} features but query has {query.shape[1]}")


def check_accuracy_shapes(query: Array, reference: Array, ref_includes_query: bool) -> None:
    """Same features, neither set empty, and the queries inside the reference when it includes them."""
    check_features(query, reference)
    if query.shape[0] == 0:
        raise ValueError("query is empty: at least one query embedding is needed")
    if reference.shape[0] == 0:
        raise ValueError("reference is empty: at least one reference embedding is needed")
    if ref_includes_query and query.shape[0] > reference.shape[0]:
        raise ValueError(
            f"ref_includes_query=True needs the queries as the first rows of the reference, but "
            f"query has {query.shape[0]} rows and reference {reference.shape[0]}"
        )
