"""Opt-in statistics shared by miners and reducers."""

from __future__ import annotations

from typing import Any

from ._component import Component, next_getattr


class RecordsStats(Component):
    """``record(**values)`` into ``self.stats`` when ``self.collect_stats`` is on.

    Values stay as they are (0-D arrays on the device: recording forces no host sync).
    As in PML, recorded statistics are also readable as attributes (``miner.num_triplets``).
    The owner sets ``collect_stats`` and resets ``stats`` at the start of each call.
    Attribute lookup defers to the next class first (``nn.Module`` in an adapter shell), so
    parameters, buffers and submodules win over statistics of the same name.
    """

    collect_stats: bool
    stats: dict[str, Any]

    def record(self, **values: Any) -> None:
        """Store statistics when ``collect_stats`` is on."""
        if self.collect_stats:
            self.stats.update(values)

    def __getattr__(self, name: str) -> Any:
        try:
            return next_getattr(self, RecordsStats, name)
        except AttributeError:
            pass
        stats = self.__dict__.get("stats")
        if stats and name in stats:
            return stats[name]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")
