"""AvgNonZeroReducer: the mean of the positive losses."""

from __future__ import annotations

from .threshold import ThresholdReducer


class AvgNonZeroReducer(ThresholdReducer):
    """Mean of the losses ``> 0`` (strict): ``ThresholdReducer(low=0)``, as in PML.

    Examples
    --------
    >>> import numpy as np
    >>> AvgNonZeroReducer()({"l": {"losses": np.asarray([0.0, 1.0, 2.0]), "indices": np.arange(3),
    ...                            "reduction_type": "element"}}, np.zeros((3, 2)), None).item()
    1.5
    """

    def __init__(self, collect_stats: bool = False) -> None:
        super().__init__(low=0, collect_stats=collect_stats)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
